#include "config/plugin_options.h"

#include <map>
#include <vector>

#include "plugins/option_values.h"
#include "util/logging.h"

namespace sdxl::config {
namespace {

struct Pending {
  std::string plugin_id;
  std::string feature;
  sdk::Options values;
};

sdk::Status check_key(const sdk::FeatureInfo& f, const std::string& key, const toml::node& node,
                      const std::string& file, const std::string& plugin_id, sdk::Options& into) {
  const auto* spec = plugins::find_option(f.options, key);
  if (!spec) return sdk::not_found("");
  auto v = plugins::option_from_toml(*spec, node, plugins::toml_location(node, file) + ": plugin " + plugin_id +
                                                       " feature " + f.name);
  if (!v.ok()) return v.status();
  into.set(key, v.value());
  return {};
}

}  // namespace

sdk::Status apply_plugin_options(plugins::PluginRegistry& registry, const toml::table& options,
                                 const std::string& file) {
  std::vector<Pending> pending;
  for (const auto& [id_key, node] : options) {
    const std::string id(id_key.str());
    const sdk::Plugin* plugin = nullptr;
    for (const auto* p : registry.plugins())
      if (p->info().id == id) plugin = p;
    if (!plugin) {
      util::log_warn(plugins::toml_location(node, file) + ": options for plugin '" + id +
                     "', which is not loaded; ignored");
      continue;
    }
    const auto* table = node.as_table();
    if (!table) return sdk::invalid_argument(plugins::toml_location(node, file) + ": [plugins.options.\"" + id + "\"] must be a table");
    const auto& features = plugin->info().features;
    for (const auto& [key_k, value] : *table) {
      const std::string key(key_k.str());
      const sdk::FeatureInfo* named = nullptr;
      for (const auto& f : features)
        if (f.name == key) named = &f;
      if (named && value.is_table()) {  // per-feature sub-table
        Pending p{id, named->name, {}};
        for (const auto& [k2, v2] : *value.as_table()) {
          auto st = check_key(*named, std::string(k2.str()), v2, file, id, p.values);
          if (st.code() == sdk::StatusCode::not_found)
            return sdk::invalid_argument(plugins::toml_location(v2, file) + ": plugin " + id + " feature " +
                                         named->name + " has no option '" + std::string(k2.str()) + "'");
          if (!st.ok()) return st;
        }
        pending.push_back(std::move(p));
        continue;
      }
      bool used = false;
      for (const auto& f : features) {
        Pending p{id, f.name, {}};
        auto st = check_key(f, key, value, file, id, p.values);
        if (st.code() == sdk::StatusCode::not_found) continue;
        if (!st.ok()) return st;
        used = true;
        pending.push_back(std::move(p));
      }
      if (!used)
        return sdk::invalid_argument(plugins::toml_location(value, file) + ": plugin " + id + " has no option '" + key +
                                     "' (see `sdxl plugins " + id + "`)");
    }
  }
  for (const auto& p : pending) registry.set_options(p.plugin_id, p.feature, p.values);
  return {};
}

}  // namespace sdxl::config
