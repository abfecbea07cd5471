#pragma once
// Host logging: spdlog to stderr, plain text or one JSON object per line (--log-format json).
// stdout is reserved for machine-readable output.

#include <string>

#include "sdxl/sdk/host_services.h"
#include "sdxl/sdk/status.h"

namespace sdxl::util {

/// Configures the default logger. `level`: trace|debug|info|warn|error; `format`: text|json.
sdk::Status setup_logging(const std::string& level, const std::string& format);

void log_info(const std::string& message);
void log_warn(const std::string& message);
void log_error(const std::string& message);

/// A Logger for plugins: messages go to the host's logger tagged with the plugin id.
class PluginLogger : public sdk::Logger {
 public:
  explicit PluginLogger(std::string plugin_id) : plugin_id_(std::move(plugin_id)) {}
  void log(sdk::LogLevel level, std::string_view message) override;

 private:
  std::string plugin_id_;
};

}  // namespace sdxl::util
