#include "schedulers/auto_sampler.h"

#include <algorithm>
#include <cctype>

namespace sdxl::schedulers {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// `word` in `text` not glued to other letters ("lcm" matches "lcm-lora", not "alcmx").
bool has_word(const std::string& text, const std::string& word) {
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    const bool left = at == 0 || !std::isalpha(static_cast<unsigned char>(text[at - 1]));
    const size_t end = at + word.size();
    const bool right = end >= text.size() || !std::isalpha(static_cast<unsigned char>(text[end]));
    if (left && right) return true;
  }
  return false;
}

struct Distilled {
  const char* marker;
  const char* feature;
  const char* spacing;  // nullptr: keep
};
const Distilled kDistilled[] = {{"lcm", "lcm", nullptr},
                                {"tcd", "tcd", nullptr},
                                {"lightning", "euler", "trailing"},
                                {"hyper", "euler", "trailing"},
                                {"hypersd", "euler", "trailing"},
                                {"turbo", "euler_a", "trailing"}};

/// Texts that identify a LoRA: its name and the title-like metadata keys.
std::vector<std::string> identity_texts(const AutoHints& h) {
  std::vector<std::string> t;
  for (const auto& n : h.lora_names) t.push_back(lower(n));
  for (const auto& meta : h.lora_metadata)
    for (const char* key : {"ss_output_name", "modelspec.title", "modelspec.description", "name"})
      if (auto it = meta.find(key); it != meta.end()) t.push_back(lower(it->second));
  return t;
}

}  // namespace

sdk::Result<AutoChoice> choose_auto_sampler(const AutoHints& h) {
  AutoChoice out;
  // Training-schedule keys of the model, kept whatever sampler is picked.
  SchedulerChoice base;
  if (h.scheduler_config.is_object()) {
    auto mapped = from_diffusers_config(h.scheduler_config);
    if (!mapped.ok()) return mapped.status();
    base = mapped.value();
  }
  for (const auto& text : identity_texts(h)) {
    for (const auto& d : kDistilled) {
      if (!has_word(text, d.marker)) continue;
      out.choice.feature = d.feature;
      for (const char* key : {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "prediction_type"})
        if (auto it = base.options.all().find(key); it != base.options.all().end()) out.choice.options.set(key, it->second);
      if (d.spacing) out.choice.options.set("timestep_spacing", std::string(d.spacing));
      out.reason = std::string("LoRA '") + text + "' is a " + d.marker + " distillation";
      return out;
    }
  }
  if (h.scheduler_config.is_object()) {
    out.choice = base;
    out.reason = "the model's scheduler_config.json (" + h.scheduler_config.value("_class_name", std::string("?")) + ")";
    return out;
  }
  out.choice.feature = "euler";
  out.reason = "default of SDXL base 1.0 (EulerDiscreteScheduler)";
  return out;
}

}  // namespace sdxl::schedulers
