#pragma once
// The [server] section of the configuration (keys in config/schema.cpp) as the server's options:
// listening address, API key, request size limit, job bounds, the cross-request batch size and
// whether decoding overlaps the next job.

#include <cstdint>

#include "config/config.h"
#include "server/http_server.h"
#include "server/job.h"

namespace sdxl::server {

struct ServerSettings {
  HttpOptions http;
  ServerLimits limits;
  std::int64_t max_batch = 4;  ///< images per UNet batch across jobs
  bool overlap_decode = false;  ///< OrchestratorOptions::overlap_decode
};

/// Defaults, then the config's [server] values. invalid_argument for values out of range
/// (port outside 0..65535, non-positive limits), naming the key.
sdk::Result<ServerSettings> server_settings(const config::Config& config);

}  // namespace sdxl::server
