#include "lora/registry_formats.h"

#include <algorithm>

namespace sdxl::lora {

sdk::Result<std::vector<NamedFormat>> formats_from_registry(const plugins::PluginRegistry& registry,
                                                            const sdk::Options& overrides) {
  std::vector<NamedFormat> out;
  for (const plugins::FeatureEntry* f : registry.features(sdk::FeatureKind::lora_format)) {
    // Each override applies to the features that declare it; the registry checks the values.
    sdk::Options opts;
    for (const auto& [key, value] : overrides.all())
      if (std::any_of(f->info.options.begin(), f->info.options.end(), [&](const sdk::OptionSpec& s) { return s.key == key; }))
        opts.set(key, value);
    auto made = registry.create_lora_format(f->info.name, &opts);
    if (!made.ok()) return sdk::Status(made.status().code(), f->plugin_id + ": " + made.status().message());
    out.push_back(NamedFormat{f->info.name, std::move(made).value()});
  }
  if (out.empty()) return sdk::not_found("no lora_format plugin is loaded (check --plugin-path / lib/sdxl/plugins)");
  return out;
}

}  // namespace sdxl::lora
