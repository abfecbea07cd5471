#include "cli/startup.h"

#include <iostream>

#include "util/logging.h"

namespace sdxl::cli {

std::optional<app::App> start_app(const GlobalOptions& global, bool load_plugins) {
  app::StartupRequest req;
  req.config_path = global.config_path;
  req.plugin_paths = global.plugin_paths;
  req.load_plugins = false;
  // Read the configuration first so its [log] section governs plugin-loading messages too.
  auto cfg = app::start(req);
  if (!cfg.ok()) {
    util::log_error(cfg.status().message());
    return std::nullopt;
  }
  const auto& c = cfg.value().config;
  const std::string level = global.log_level.empty() ? c.log_level : global.log_level;
  const std::string format = global.log_format.empty() ? c.log_format : global.log_format;
  if (auto st = util::setup_logging(level, format); !st.ok()) {
    std::cerr << "sdxl: " << st.message() << "\n";
    return std::nullopt;
  }
  if (!load_plugins) return std::move(cfg).value();
  req.load_plugins = true;
  auto full = app::start(req);
  if (!full.ok()) {
    util::log_error(full.status().message());
    return std::nullopt;
  }
  return std::move(full).value();
}

bool parse_or_complain(Args& args, const std::string& command) {
  if (args.parse()) return true;
  std::cerr << "sdxl " << command << ": " << args.error() << " (see `sdxl " << command << " --help`)\n";
  return false;
}

}  // namespace sdxl::cli
