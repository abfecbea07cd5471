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

sdk::Result<LoraMode> parse_lora_mode(const std::string& text) {
  if (text == "merge") return LoraMode::merge;
  if (text == "runtime") return LoraMode::runtime;
  return sdk::invalid_argument("LoRA mode '" + text + "' (expected merge or runtime)");
}

const char* to_string(LoraMode mode) { return mode == LoraMode::runtime ? "runtime" : "merge"; }

bool runtime_adaptable(const std::string& name) {
  auto ends_with = [&](const std::string& tail) {
    return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (!ends_with(".weight")) return false;
  // The UNet computes every matrix and kernel through models::Linear / models::Conv2d.
  if (name.rfind("unet.", 0) == 0) return true;
  // The CLIP encoders call at::linear directly, with add_linear_adapter on these six projections.
  if (name.rfind("text_encoder", 0) != 0) return false;
  for (const char* p : {".self_attn.q_proj.weight", ".self_attn.k_proj.weight", ".self_attn.v_proj.weight",
                        ".self_attn.out_proj.weight", ".mlp.fc1.weight", ".mlp.fc2.weight"})
    if (ends_with(p)) return true;
  return false;
}

sdk::Result<std::unique_ptr<ModelLoras>> ModelLoras::create(SdxlModel& model, const plugins::PluginRegistry& registry,
                                                            LoraMode mode) {
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
  m->runtime_ = std::make_unique<lora::RuntimeEngine>(&m->weights_, runtime_adaptable);
  m->mode_ = mode;
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
  if (mode_ == LoraMode::runtime) {
    std::vector<lora::RuntimeLora> set;
    for (std::size_t i = 0; i < stack.size(); ++i) {
      lora::ComponentMultipliers c;
      c.unet = stack[i].unet;
      c.text_encoder = stack[i].text_encoder;
      set.push_back(lora::RuntimeLora{loaded[i], c});
    }
    auto st = runtime_->attach(set);  // all or nothing: on error the previous set stays
    if (!st.ok()) return st.status();
    active_ = stack;
    memory::process_ledger().record_resident("lora.adapters", device_, runtime_->adapter_bytes());
    return {};
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
