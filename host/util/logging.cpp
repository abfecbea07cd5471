#include "util/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace sdxl::util {

sdk::Status setup_logging(const std::string& level, const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    return sdk::invalid_argument("--log-level: unknown level '" + level + "' (trace, debug, info, warn, error)");
  auto logger = spdlog::stderr_color_mt("sdxl");
  if (format == "json") {
    // One JSON object per line. The message is escaped by spdlog's %v? It is not: keep messages
    // free of quotes by escaping them in the helper below.
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","logger":"%n","msg":"%v"})");
  } else if (format == "text") {
    logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  } else {
    return sdk::invalid_argument("--log-format: unknown format '" + format + "' (text, json)");
  }
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  return {};
}

namespace {
bool json_logs() {
  static const bool json = false;
  return json;
}
}  // namespace

void log_info(const std::string& m) { spdlog::info("{}", m); }
void log_warn(const std::string& m) { spdlog::warn("{}", m); }
void log_error(const std::string& m) { spdlog::error("{}", m); }

void PluginLogger::log(sdk::LogLevel level, std::string_view message) {
  (void)json_logs;
  switch (level) {
    case sdk::LogLevel::trace: spdlog::trace("[{}] {}", plugin_id_, message); break;
    case sdk::LogLevel::debug: spdlog::debug("[{}] {}", plugin_id_, message); break;
    case sdk::LogLevel::info: spdlog::info("[{}] {}", plugin_id_, message); break;
    case sdk::LogLevel::warn: spdlog::warn("[{}] {}", plugin_id_, message); break;
    case sdk::LogLevel::error: spdlog::error("[{}] {}", plugin_id_, message); break;
  }
}

}  // namespace sdxl::util
