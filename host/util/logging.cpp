#include "util/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace sdxl::util {
namespace {

// `%*` in the pattern: the message escaped as a JSON string body, so --log-format json emits
// valid JSON whatever the message contains (paths with quotes, multi-line errors).
class JsonEscapedMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static const char* hex = "0123456789abcdef";
    for (char c : msg.payload) {
      switch (c) {
        case '"': dest.append(std::string_view("\\\"")); break;
        case '\\': dest.append(std::string_view("\\\\")); break;
        case '\n': dest.append(std::string_view("\\n")); break;
        case '\r': dest.append(std::string_view("\\r")); break;
        case '\t': dest.append(std::string_view("\\t")); break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            const char esc[6] = {'\\', 'u', '0', '0', hex[(c >> 4) & 0xf], hex[c & 0xf]};
            dest.append(esc, esc + 6);
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonEscapedMessage>(); }
};

}  // namespace

sdk::Status setup_logging(const std::string& level, const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    return sdk::invalid_argument("log level: unknown level '" + level + "' (trace, debug, info, warn, error)");
  if (format != "json" && format != "text")
    return sdk::invalid_argument("log format: unknown format '" + format + "' (text, json)");
  spdlog::drop("sdxl");
  auto logger = spdlog::stderr_color_mt("sdxl");
  if (format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":"%*"})");
    logger->set_formatter(std::move(formatter));
  } else {
    logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  }
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  return {};
}

void log_info(const std::string& m) { spdlog::info("{}", m); }
void log_warn(const std::string& m) { spdlog::warn("{}", m); }
void log_error(const std::string& m) { spdlog::error("{}", m); }

void PluginLogger::log(sdk::LogLevel level, std::string_view message) {
  switch (level) {
    case sdk::LogLevel::trace: spdlog::trace("[{}] {}", plugin_id_, message); break;
    case sdk::LogLevel::debug: spdlog::debug("[{}] {}", plugin_id_, message); break;
    case sdk::LogLevel::info: spdlog::info("[{}] {}", plugin_id_, message); break;
    case sdk::LogLevel::warn: spdlog::warn("[{}] {}", plugin_id_, message); break;
    case sdk::LogLevel::error: spdlog::error("[{}] {}", plugin_id_, message); break;
  }
}

}  // namespace sdxl::util
