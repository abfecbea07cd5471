#include "plugins/describe.h"

#include <sstream>

#include "plugins/option_values.h"

namespace sdxl::plugins {

nlohmann::json option_value_json(const sdk::OptionValue& v) {
  if (auto b = std::get_if<bool>(&v)) return *b;
  if (auto i = std::get_if<std::int64_t>(&v)) return *i;
  if (auto d = std::get_if<double>(&v)) return *d;
  return std::get<std::string>(v);
}

namespace {

const FeatureEntry* active_entry(const PluginRegistry& reg, const std::string& plugin_id, const sdk::FeatureInfo& f) {
  for (const auto* e : reg.features(f.kind))
    if (e->plugin_id == plugin_id && e->info.name == f.name) return e;
  return nullptr;
}

nlohmann::json feature_json(const PluginRegistry& reg, const std::string& plugin_id, const sdk::FeatureInfo& f) {
  const FeatureEntry* active = active_entry(reg, plugin_id, f);
  nlohmann::json options = nlohmann::json::array();
  for (const auto& o : f.options) {
    nlohmann::json j = {{"key", o.key}, {"type", to_string(o.type)}, {"default", option_value_json(o.default_value)},
                        {"description", o.description}, {"since", o.since}};
    if (o.min) j["min"] = *o.min;
    if (o.max) j["max"] = *o.max;
    if (!o.choices.empty()) j["choices"] = o.choices;
    if (active)
      if (auto it = active->options.all().find(o.key); it != active->options.all().end())
        j["value"] = option_value_json(it->second);
    options.push_back(std::move(j));
  }
  return {{"kind", to_string(f.kind)}, {"name", f.name},     {"aliases", f.aliases}, {"rank", f.rank},
          {"description", f.description}, {"active", active != nullptr}, {"options", options}};
}

std::string value_text(const sdk::OptionValue& v) { return option_value_json(v).dump(); }

void feature_text(std::ostringstream& os, const PluginRegistry& reg, const std::string& plugin_id,
                  const sdk::FeatureInfo& f) {
  const FeatureEntry* active = active_entry(reg, plugin_id, f);
  os << "  " << to_string(f.kind) << " " << f.name << "  (rank " << f.rank << (active ? "" : ", disabled") << ")\n";
  if (!f.description.empty()) os << "      " << f.description << "\n";
  if (!f.aliases.empty()) {
    os << "      aliases:";
    for (const auto& a : f.aliases) os << " \"" << a << "\"";
    os << "\n";
  }
  for (const auto& o : f.options) {
    os << "      " << o.key << " (" << to_string(o.type) << ", default " << value_text(o.default_value);
    if (active)
      if (auto it = active->options.all().find(o.key); it != active->options.all().end() && !(it->second == o.default_value))
        os << ", set to " << value_text(it->second);
    if (o.min || o.max) os << ", range [" << (o.min ? format_number(*o.min) : "-inf") << ", " << (o.max ? format_number(*o.max) : "inf") << "]";
    if (!o.choices.empty()) {
      os << ", one of";
      for (const auto& c : o.choices) os << " " << c;
    }
    os << ")";
    if (!o.description.empty()) os << ": " << o.description;
    os << "\n";
  }
}

}  // namespace

nlohmann::json registry_json(const PluginRegistry& reg) {
  nlohmann::json plugins = nlohmann::json::array();
  for (const auto* p : reg.plugins()) {
    const auto& info = p->info();
    nlohmann::json features = nlohmann::json::array();
    for (const auto& f : info.features) features.push_back(feature_json(reg, info.id, f));
    plugins.push_back({{"id", info.id},           {"name", info.name},       {"library", reg.library_of(p)},
                       {"version", info.version}, {"vendor", info.vendor},   {"license", info.license},
                       {"description", info.description}, {"features", features}});
  }
  nlohmann::json rejected = nlohmann::json::array();
  for (const auto& r : reg.rejected()) rejected.push_back({{"library", r.library}, {"reason", r.reason}});
  return {{"plugins", plugins}, {"rejected", rejected}};
}

bool describe_text(const PluginRegistry& reg, const std::string& only, std::string& out) {
  std::ostringstream os;
  bool any = false;
  for (const auto* p : reg.plugins()) {
    const auto& info = p->info();
    const bool whole = only.empty() || info.id == only;
    std::vector<const sdk::FeatureInfo*> shown;
    for (const auto& f : info.features) {
      bool match = whole || f.name == only;
      for (const auto& a : f.aliases) match = match || a == only;
      if (match) shown.push_back(&f);
    }
    if (shown.empty()) continue;
    any = true;
    os << info.id << "  " << info.version << "  — " << info.name << "\n";
    if (!only.empty()) {
      os << "  library: " << reg.library_of(p) << "\n  vendor: " << info.vendor << "\n  license: " << info.license << "\n";
      if (!info.description.empty()) os << "  " << info.description << "\n";
    }
    for (const auto* f : shown) feature_text(os, reg, info.id, *f);
    os << "\n";
  }
  if (only.empty()) {
    if (!reg.rejected().empty()) os << "rejected libraries:\n";
    for (const auto& r : reg.rejected()) os << "  " << r.library << "\n      " << r.reason << "\n";
    any = true;
  }
  out = os.str();
  return any;
}

}  // namespace sdxl::plugins
