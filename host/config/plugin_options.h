#pragma once
// Applies the [plugins.options."<plugin id>"] tables of a configuration to the loaded plugins,
// checking each key against the plugin's option schemas. A key directly in the plugin's table
// applies to every feature of the plugin that declares it; a sub-table named after a feature
// applies to that feature only. Nothing is applied unless everything checks out.

#include <string>

#include <toml++/toml.h>

#include "plugins/registry.h"
#include "sdxl/sdk/status.h"

namespace sdxl::config {

sdk::Status apply_plugin_options(plugins::PluginRegistry& registry, const toml::table& options,
                                 const std::string& file);

}  // namespace sdxl::config
