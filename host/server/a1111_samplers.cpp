#include "server/a1111_samplers.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "pipeline/infotext.h"

namespace sdxl::server {
namespace {

// Feature base name → A1111 sampler name (A1111's sd_samplers_kdiffusion / _timesteps lists).
const std::vector<std::pair<std::string, std::string>>& sampler_names() {
  static const std::vector<std::pair<std::string, std::string>> names = {
      {"euler", "Euler"}, {"euler_a", "Euler a"}, {"heun", "Heun"}, {"dpm2", "DPM2"}, {"dpm2_a", "DPM2 a"},
      {"lms", "LMS"}, {"ddim", "DDIM"}, {"ddpm", "DDPM"}, {"plms", "PLMS"}, {"dpmpp_2m", "DPM++ 2M"},
      {"dpmpp_3m", "DPM++ 3M"}, {"dpmpp_2m_sde", "DPM++ 2M SDE"}, {"dpmpp_2s", "DPM++ 2S"},
      {"dpmpp_2s_a", "DPM++ 2S a"}, {"unipc", "UniPC"}, {"deis", "DEIS"}, {"lcm", "LCM"}, {"tcd", "TCD"},
      {"ipndm", "IPNDM"}};
  return names;
}

// Case, spaces, '-' and '_' ignored: "dpm++ 2m" == "DPM++ 2M", "sgm_uniform" == "SGM Uniform".
std::string loose(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != ' ' && c != '_' && c != '-') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const A1111Schedule* find_schedule(const std::string& text) {
  const std::string l = loose(text);
  for (const auto& s : a1111_schedules())
    if (l == loose(s.name) || l == loose(s.label)) return &s;
  return nullptr;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

const std::vector<A1111Schedule>& a1111_schedules() {
  static const std::vector<A1111Schedule> schedules = {
      {"automatic", "Automatic", ""},      {"karras", "Karras", "_karras"},
      {"exponential", "Exponential", "_exponential"}, {"sgm_uniform", "SGM Uniform", "_sgm_uniform"},
      {"beta", "Beta", "_beta"},           {"align_your_steps", "Align Your Steps", "_ays"},
      {"uniform", "Uniform", "_trailing"}};
  return schedules;
}

sdk::Result<std::string> a1111_to_feature(const std::string& sampler_name, const std::string& scheduler,
                                          const std::vector<std::string>& available) {
  if (sampler_name.empty()) return std::string();
  const A1111Schedule* schedule = nullptr;
  if (!scheduler.empty()) {
    schedule = find_schedule(scheduler);
    if (!schedule) {
      std::vector<std::string> labels;
      for (const auto& s : a1111_schedules()) labels.push_back(s.name);
      return sdk::invalid_argument("scheduler: unknown schedule type '" + scheduler + "'; known: " + join(labels));
    }
  }
  // Split an old-style "DPM++ 2M Karras" into sampler and schedule.
  std::string base_name = sampler_name;
  if (!schedule || schedule->suffix[0] == '\0') {
    for (const auto& s : a1111_schedules()) {
      const std::string label = std::string(" ") + s.label;
      if (s.suffix[0] && base_name.size() > label.size() &&
          loose(base_name.substr(base_name.size() - label.size())) == loose(label)) {
        base_name = base_name.substr(0, base_name.size() - label.size());
        schedule = &s;
        break;
      }
    }
  }
  std::string base;
  for (const auto& [feature, a1111] : sampler_names())
    if (loose(a1111) == loose(base_name)) base = feature;
  if (base.empty()) return sampler_name;  // our own name or alias: the orchestrator resolves it
  const std::string feature = base + (schedule ? schedule->suffix : "");
  if (available.empty() || std::find(available.begin(), available.end(), feature) != available.end()) return feature;
  std::vector<std::string> offered;
  for (const auto& f : available) {
    const auto [s, sched] = feature_to_a1111(f);
    if (s != f) offered.push_back(sched == "Automatic" ? s : s + " + " + sched);
  }
  return sdk::invalid_argument("sampler_name: '" + sampler_name + "'" +
                               (schedule && schedule->suffix[0] ? std::string(" with schedule ") + schedule->label : "") +
                               " is not available; available: " + join(offered));
}

std::pair<std::string, std::string> feature_to_a1111(const std::string& feature) {
  // The same names the PNG infotext uses, so /samplers, "info" and the parameters chunk agree.
  return pipeline::a1111_sampler_names(feature);
}

}  // namespace sdxl::server
