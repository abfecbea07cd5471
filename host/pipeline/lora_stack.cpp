#include "pipeline/lora_stack.h"

#include <cstdlib>

#include "lora/registry_formats.h"
#include "memory/ledger.h"

namespace sdxl::pipeline {
namespace fs = std::filesystem;

sdk::Result<LoraRequest> parse_lora_argument(const std::string& arg) {
  LoraRequest r;
  // Split trailing ":number" parts off; a path may itself contain ':'.
  std::string rest = arg;
  std::vector<double> numbers;
  for (int i = 0; i < 2; ++i) {
    auto colon = rest.rfind(':');
    if (colon == std::string::npos) break;
    const std::string tail = rest.substr(colon + 1);
    char* end = nullptr;
    const double v = std::strtod(tail.c_str(), &end);
    if (tail.empty() || *end != '\0') break;
    numbers.insert(numbers.begin(), v);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return sdk::invalid_argument("--lora '" + arg + "': no file");
  r.path = rest;
  if (!numbers.empty()) r.unet = r.text_encoder = numbers[0];
  if (numbers.size() > 1) r.text_encoder = numbers[1];
  return r;
}

sdk::Result<fs::path> resolve_lora_name(const std::string& name, const std::vector<fs::path>& folders) {
  if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos || name == ".." ||
      name == ".")
    return sdk::invalid_argument("LoRA name '" + name + "': only a file name inside the LoRA folders is allowed");
  for (const auto& dir : folders) {
    for (const fs::path candidate : {dir / name, dir / (name + ".safetensors")}) {
      std::error_code ec;
      if (fs::is_regular_file(candidate, ec)) return candidate;
    }
  }
  return sdk::not_found("LoRA '" + name + "' not found in the LoRA folders");
}

sdk::Result<std::vector<LoraRequest>> loras_from_toml(const toml::array& list, const std::string& file,
                                                      const std::vector<fs::path>& folders) {
  std::vector<LoraRequest> out;
  for (const auto& node : list) {
    const auto& src = node.source();
    const std::string where = file + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
    // A bare name is looked up in the LoRA folders; anything with a path separator is a path.
    auto locate = [&](const std::string& p) -> sdk::Result<fs::path> {
      if (p.find('/') == std::string::npos) {
        auto r = resolve_lora_name(p, folders);
        if (!r.ok()) return sdk::not_found(where + ": " + r.status().message());
        return r;
      }
      std::error_code ec;
      if (!fs::is_regular_file(p, ec)) return sdk::not_found(where + ": LoRA file '" + p + "' not found");
      return fs::path(p);
    };
    if (auto str = node.as_string()) {
      auto r = parse_lora_argument(str->get());
      if (!r.ok()) return sdk::invalid_argument(where + ": " + r.status().message());
      auto path = locate(r.value().path.string());
      if (!path.ok()) return path.status();
      r.value().path = path.value();
      out.push_back(r.value());
    } else if (auto t = node.as_table()) {
      LoraRequest r;
      auto p = (*t)["path"].value<std::string>();
      if (!p) return sdk::invalid_argument(where + ": a LoRA table needs path = \"…\"");
      auto path = locate(*p);
      if (!path.ok()) return path.status();
      r.path = path.value();
      for (const auto& [k, v] : *t) {
        const std::string key(k.str());
        if (key == "path") continue;
        auto num = v.value<double>();
        if (!num || (key != "weight" && key != "unet" && key != "text_encoder"))
          return sdk::invalid_argument(where + ": LoRA key '" + key + "' (expected weight, unet or text_encoder, numbers)");
        if (key == "weight") r.unet = r.text_encoder = *num;
        else if (key == "unet") r.unet = *num;
        else r.text_encoder = *num;
      }
      out.push_back(r);
    } else {
      return sdk::invalid_argument(where + ": a LoRA entry is \"name:weight\" or { path = …, weight = … }");
    }
  }
  return out;
}

sdk::Result<std::unique_ptr<ModelLoras>> ModelLoras::create(SdxlModel& model, const plugins::PluginRegistry& registry) {
  auto formats = lora::formats_from_registry(registry, sdk::Options());
  if (!formats.ok()) return formats.status();
  auto m = std::make_unique<ModelLoras>();
  for (const auto& [name, t] : model.unet->parameters()) m->weights_["unet." + name] = t;
  for (const auto& [name, t] : model.text->te1().parameters()) m->weights_["text_encoder." + name] = t;
  for (const auto& [name, t] : model.text->te2().parameters()) m->weights_["text_encoder_2." + name] = t;
  lora::ParamShapes shapes;
  for (const auto& [name, t] : m->weights_) shapes[name] = t.sizes().vec();
  m->modules_ = std::make_unique<lora::ModuleTable>(lora::ModuleTable::from_params(shapes));
  m->library_ = std::make_unique<lora::LoraLibrary>(std::move(formats).value());
  m->engine_ = std::make_unique<lora::MergeEngine>(&m->weights_);
  m->device_ = model.device;
  return m;
}

sdk::Status ModelLoras::apply(const std::vector<LoraRequest>& stack) {
  // Parse everything first: a bad file changes no weight.
  std::vector<std::shared_ptr<const lora::LoadedLora>> loaded;
  for (const auto& r : stack) {
    auto l = library_->load(r.path, *modules_);
    if (!l.ok()) return l.status();
    loaded.push_back(l.value());
  }
  engine_->unmerge();
  active_.clear();
  for (std::size_t i = 0; i < stack.size(); ++i) {
    lora::ComponentMultipliers c;
    c.unet = stack[i].unet;
    c.text_encoder = stack[i].text_encoder;
    auto st = engine_->merge({lora::LoraApplication{loaded[i], 1.0}}, c);
    if (!st.ok()) {
      engine_->unmerge();  // all or nothing across the stack too
      return st.status();
    }
    active_.push_back(stack[i]);
  }
  memory::process_ledger().record_resident("lora.backups", device_, engine_->backup_bytes());
  return {};
}

}  // namespace sdxl::pipeline
