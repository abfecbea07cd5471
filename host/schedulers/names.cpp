#include "schedulers/names.h"

#include <algorithm>
#include <cctype>

namespace sdxl::schedulers {

std::string loose_name(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '+') {
      out += 'p';  // "++" → "pp", so "DPM++" meets "dpmpp"
      continue;
    }
    if (c == ' ' || c == '-' || c == '_' || c == '.') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string unknown_sampler_message(const std::string& name, const std::vector<std::string>& available) {
  std::string list;
  for (const auto& a : available) list += (list.empty() ? "" : ", ") + a;
  return "unknown sampler '" + name + "'; available: " + list;
}

sdk::Result<std::string> resolve_sampler(const std::string& name, const std::vector<sdk::FeatureInfo>& features) {
  const std::string key = loose_name(name);
  const sdk::FeatureInfo* best = nullptr;
  auto consider = [&](const sdk::FeatureInfo& f) {
    if (!best || f.rank > best->rank) best = &f;
  };
  for (const auto& f : features)
    if (f.kind == sdk::FeatureKind::scheduler && loose_name(f.name) == key) consider(f);
  if (!best) {
    for (const auto& f : features) {
      if (f.kind != sdk::FeatureKind::scheduler) continue;
      for (const auto& a : f.aliases)
        if (loose_name(a) == key) consider(f);
    }
  }
  if (best) return best->name;
  std::vector<std::string> names;
  for (const auto& f : features)
    if (f.kind == sdk::FeatureKind::scheduler) names.push_back(f.name);
  std::sort(names.begin(), names.end());
  return sdk::not_found(unknown_sampler_message(name, names));
}

}  // namespace sdxl::schedulers
