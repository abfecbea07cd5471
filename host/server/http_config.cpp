#include "server/http_config.h"

#include <toml++/toml.h>

namespace sdxl::server {

sdk::Result<ServerSettings> server_settings(const config::Config& config) {
  ServerSettings s;
  const toml::table* t = config.document ? config.document->at_path("server").as_table() : nullptr;
  s.limits.max_request_bytes = s.http.max_request_bytes;
  if (!t) return s;  // types were checked when the file was loaded (config/schema.cpp)
  auto integer = [&](const char* key, std::int64_t fallback, std::int64_t lo, std::int64_t hi) -> sdk::Result<std::int64_t> {
    const auto v = (*t)[key].value<std::int64_t>();
    if (!v) return fallback;
    if (*v < lo || *v > hi)
      return sdk::invalid_argument(config.file + ": [server] " + key + " must be in [" + std::to_string(lo) + ", " +
                                   std::to_string(hi) + "] (got " + std::to_string(*v) + ")");
    return *v;
  };
  if (auto v = (*t)["host"].value<std::string>()) s.http.host = *v;
  if (auto v = (*t)["api_key"].value<std::string>()) s.http.api_key = *v;
  if (auto v = (*t)["overlap_decode"].value<bool>()) s.overlap_decode = *v;
  struct IntKey {
    const char* key;
    std::int64_t lo, hi;
    std::int64_t* dst;
  };
  std::int64_t port = s.http.port, mb = static_cast<std::int64_t>(s.http.max_request_bytes >> 20), threads = s.http.threads;
  const IntKey keys[] = {{"port", 0, 65535, &port},
                         {"max_request_mb", 1, 4096, &mb},
                         {"threads", 4, 1024, &threads},
                         {"max_width", 8, 16384, &s.limits.max_width},
                         {"max_height", 8, 16384, &s.limits.max_height},
                         {"max_steps", 1, 10000, &s.limits.max_steps},
                         {"max_batch_size", 1, 1024, &s.limits.max_batch},
                         {"max_loras", 0, 1024, &s.limits.max_loras},
                         {"max_batch", 1, 1024, &s.max_batch}};
  for (const auto& k : keys) {
    auto v = integer(k.key, *k.dst, k.lo, k.hi);
    if (!v.ok()) return v.status();
    *k.dst = v.value();
  }
  s.http.port = static_cast<int>(port);
  s.http.threads = static_cast<int>(threads);
  s.http.max_request_bytes = static_cast<std::size_t>(mb) << 20;
  s.limits.max_request_bytes = s.http.max_request_bytes;
  s.limits.max_pixels = s.limits.max_width * s.limits.max_height;
  return s;
}

}  // namespace sdxl::server
