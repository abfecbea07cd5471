#pragma once
// Start-up shared by every command and the server: read the configuration, find and load the
// plugins, apply their options. Any error here is a configuration error (exit code 2) and
// leaves nothing half-applied.

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "plugins/registry.h"
#include "sdxl/sdk/status.h"

namespace sdxl::app {

struct StartupRequest {
  std::string config_path;                ///< --config (empty: see config::locate_config)
  std::vector<std::string> plugin_paths;  ///< --plugin-path
  bool load_plugins = true;
};

struct App {
  config::Config config;
  std::unique_ptr<plugins::PluginRegistry> registry;
  std::vector<std::filesystem::path> plugin_search_paths;
};

sdk::Result<App> start(const StartupRequest& request);

/// Folder holding the built-in plugins: <dir of the executable>/../lib/sdxl/plugins.
std::filesystem::path builtin_plugin_dir();

}  // namespace sdxl::app
