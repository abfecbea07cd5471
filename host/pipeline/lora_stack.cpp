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
