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

// Recommended settings from each distillation's model card: LCM-LoRA 4 steps, guidance 1–2;
// TCD 4 steps, no guidance; SDXL-Lightning and Hyper-SD the step count in their name, no
// guidance; SDXL-Turbo 1 step, no guidance.
struct Distilled {
  const char* marker;
  const char* feature;
  const char* spacing;  // nullptr: keep
  std::int64_t steps;   // default when the name does not say ("4step")
  double cfg;
};
const Distilled kDistilled[] = {{"lcm", "lcm", nullptr, 4, 1.5},
                                {"tcd", "tcd", nullptr, 4, 1.0},
                                {"lightning", "euler", "trailing", 4, 1.0},
                                {"hyper", "euler", "trailing", 8, 1.0},
                                {"hypersd", "euler", "trailing", 8, 1.0},
                                {"turbo", "euler_a", "trailing", 1, 1.0}};

// "4step", "8-steps", "2_step" in a name → that number.
std::optional<std::int64_t> steps_in_name(const std::string& text) {
  for (std::size_t at = text.find("step"); at != std::string::npos; at = text.find("step", at + 1)) {
    std::size_t i = at;
    while (i > 0 && (text[i - 1] == '-' || text[i - 1] == '_' || text[i - 1] == ' ')) --i;
    std::size_t end = i;
    while (i > 0 && std::isdigit(static_cast<unsigned char>(text[i - 1]))) --i;
    if (i < end) return std::stoll(text.substr(i, end - i));
  }
  return std::nullopt;
}

/// Texts that identify a LoRA: its name and the title-like metadata keys.
std::vector<std::string> identity_texts(const AutoHints& h) {
  std::vector<std::string> t;
  if (!h.model_name.empty()) t.push_back(lower(h.model_name));
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
      out.steps = steps_in_name(text).value_or(d.steps);
      out.cfg = d.cfg;
      out.reason = "'" + text + "' is a " + d.marker + " distillation: " + std::to_string(*out.steps) +
                   " steps, " + (d.cfg > 1 ? "cfg " + std::to_string(d.cfg) : std::string("no CFG"));
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
