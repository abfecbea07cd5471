#include "diffusers_format.h"

#include <ATen/ATen.h>

#include <map>

namespace sdxl::lora {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
std::string drop(const std::string& s, const std::string& tail) { return s.substr(0, s.size() - tail.size()); }
bool is_text_encoder(const std::string& group) { return group.rfind("text_encoder", 0) == 0; }

// "…attn1.processor.to_q_lora" -> "…attn1.to_q" (UNet) / "…self_attn.to_q_lora" -> "…self_attn.q_proj" (CLIP).
std::optional<std::string> attention_processor_module(const std::string& base) {
  const auto dot = base.rfind('.');
  if (dot == std::string::npos) return std::nullopt;
  std::string parent = base.substr(0, dot);
  const std::string proj = drop(base.substr(dot + 1), "_lora");
  if (ends_with(parent, ".processor")) parent = drop(parent, ".processor");
  static const std::map<std::string, std::pair<std::string, std::string>> names = {
      {"to_q", {"to_q", "q_proj"}}, {"to_k", {"to_k", "k_proj"}}, {"to_v", {"to_v", "v_proj"}},
      {"to_out", {"to_out.0", "out_proj"}}};
  auto it = names.find(proj);
  if (it == names.end()) return std::nullopt;
  return parent + "." + (is_text_encoder(parent) ? it->second.second : it->second.first);
}

}  // namespace

std::optional<DiffusersKey> classify_diffusers_key(const std::string& key) {
  struct Rule {
    const char* tail;
    const char* suffix;
    std::optional<DiffusersEra> era;
  };
  static const Rule rules[] = {
      {".lora_A.weight", "lora_down.weight", DiffusersEra::peft},
      {".lora_B.weight", "lora_up.weight", DiffusersEra::peft},
      {".lora_magnitude_vector.weight", "dora_scale", DiffusersEra::peft},
      {".lora_magnitude_vector", "dora_scale", DiffusersEra::peft},
      {".lora_linear_layer.down.weight", "lora_down.weight", DiffusersEra::legacy},
      {".lora_linear_layer.up.weight", "lora_up.weight", DiffusersEra::legacy},
      {".lora.down.weight", "lora_down.weight", DiffusersEra::legacy},
      {".lora.up.weight", "lora_up.weight", DiffusersEra::legacy},
      {".alpha", "alpha", std::nullopt},
  };
  for (const auto& r : rules)
    if (ends_with(key, r.tail) && key.size() > std::char_traits<char>::length(r.tail))
      return DiffusersKey{drop(key, r.tail), r.suffix, r.era};
  for (const char* dir : {"down", "up"}) {
    const std::string tail = std::string("_lora.") + dir + ".weight";
    if (!ends_with(key, tail)) continue;
    auto module = attention_processor_module(drop(key, std::string(".") + dir + ".weight"));
    if (!module) return std::nullopt;
    return DiffusersKey{*module, std::string("lora_") + dir + ".weight", DiffusersEra::legacy};
  }
  return std::nullopt;
}

sdk::LoraDetection DiffusersFormat::detect(const sdk::LoraFile& file) const {
  sdk::LoraDetection d;
  try {
    if (!file.tensors || file.tensors->empty()) {
      d.reason = "no tensors";
      return d;
    }
    std::size_t peft = 0, legacy = 0, other = 0;
    std::string first_other;
    for (const auto& kv : *file.tensors) {
      auto k = classify_diffusers_key(kv.first);
      if (!k) {
        if (first_other.empty()) first_other = kv.first;
        ++other;
      } else if (k->era == DiffusersEra::peft) {
        ++peft;
      } else if (k->era == DiffusersEra::legacy) {
        ++legacy;
      }
    }
    const std::size_t mine = claim_ == DiffusersEra::peft ? peft : legacy;
    const std::string counts = std::to_string(peft) + " PEFT keys (lora_A/lora_B), " + std::to_string(legacy) +
                               " legacy diffusers keys (lora.down/up, *_lora, lora_linear_layer), " +
                               std::to_string(other) + " other keys" +
                               (first_other.empty() ? "" : " (first: '" + first_other + "')");
    d.reason = counts;
    if (mine == 0) return d;
    const double total = static_cast<double>(peft + legacy + other);
    // Majority era wins; unknown keys lower the confidence.
    d.confidence = 0.9 * static_cast<double>(peft + legacy) / total *
                   (0.6 + 0.4 * static_cast<double>(mine) / static_cast<double>(peft + legacy));
  } catch (const std::exception& e) {
    d.confidence = 0;
    d.reason = std::string("detection failed: ") + e.what();
  }
  return d;
}

sdk::Result<sdk::LoraParse> DiffusersFormat::parse(const sdk::LoraFile& file, const sdk::ModuleResolver& modules) const {
  return sdk::guard("diffusers parse of " + file.path, [&] { return parse_unguarded(file, modules); });
}

sdk::Result<sdk::LoraParse> DiffusersFormat::parse_unguarded(const sdk::LoraFile& file,
                                                             const sdk::ModuleResolver& modules) const {
  if (!file.tensors) return sdk::invalid_argument(file.path + ": no tensors");
  sdk::LoraParse result;
  std::map<std::string, GroupTensors> groups;
  std::vector<std::string> unknown_keys;
  for (const auto& [key, tensor] : *file.tensors) {
    auto k = classify_diffusers_key(key);
    if (!k) {
      unknown_keys.push_back(key);
      continue;
    }
    auto& g = groups[k->group];
    g.group = k->group;
    if (g.parts.count(k->suffix))
      return sdk::invalid_argument(file.path + ": LoRA group '" + k->group + "' has two '" + k->suffix +
                                   "' tensors (second: '" + key + "')");
    g.parts[k->suffix] = tensor;
  }
  auto resolve = [&](const std::string& name) {
    auto m = modules.resolve(name);
    // UNet-only files are also written without the component prefix.
    if (!m && name.rfind("unet.", 0) != 0 && !is_text_encoder(name)) m = modules.resolve("unet." + name);
    return m;
  };
  return finish_parse(file.path, groups, resolve, std::move(unknown_keys),
                      "key(s)/group(s) are not diffusers LoRA keys or name no module of this model", nullptr,
                      settings_.unknown_modules_are_errors, settings_.dora, std::move(result));
}

}  // namespace sdxl::lora
