#include "lora/registry_formats.h"

#include <algorithm>

namespace sdxl::lora {

sdk::Result<std::vector<NamedFormat>> formats_from_registry(const plugins::PluginRegistry& registry,
                                                            const sdk::Options& overrides) {
  std::vector<NamedFormat> out;
  for (const plugins::FeatureEntry* f : registry.features(sdk::FeatureKind::lora_format)) {
    sdk::Options opts = f->options;
    for (const auto& [key, value] : overrides.all()) {
      auto spec = std::find_if(f->info.options.begin(), f->info.options.end(),
                               [&](const sdk::OptionSpec& s) { return s.key == key; });
      if (spec == f->info.options.end()) continue;  // this feature has no such option
      if (auto str = std::get_if<std::string>(&value); str && !spec->choices.empty() &&
                                                        std::find(spec->choices.begin(), spec->choices.end(), *str) ==
                                                            spec->choices.end())
        return sdk::invalid_argument("option " + key + " of " + f->info.name + ": '" + *str + "' is not one of its choices");
      opts.set(key, value);
    }
    // The registry's create_lora_format() takes no option overrides (yet); call the plugin's
    // factory the way the registry does, with the feature's own services.
    auto* plugin = const_cast<sdk::Plugin*>(f->plugin);
    auto made = sdk::guard("creating " + f->info.name, [&] { return plugin->create_lora_format(f->info.name, opts, f->services); });
    if (!made.ok()) return sdk::Status(made.status().code(), f->plugin_id + ": " + made.status().message());
    if (!made.value()) return sdk::internal_error(f->plugin_id + " returned no object for " + f->info.name);
    out.push_back(NamedFormat{f->info.name, std::move(made).value()});
  }
  if (out.empty()) return sdk::not_found("no lora_format plugin is loaded (check --plugin-path / lib/sdxl/plugins)");
  return out;
}

}  // namespace sdxl::lora
