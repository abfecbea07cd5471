#pragma once
// The HTTP front of the job service (`sdxl serve`): the native API (/v1/…), the A1111-compatible
// subset (/sdapi/v1/…), /healthz and /metrics, on cpp-httplib. Routes only translate between
// HTTP/JSON and the Orchestrator; all scheduling and generation happens there.
//
// Safety: request bodies above max_request_bytes are refused (413) before they are read whole;
// malformed JSON or base64 → 400 naming the field; unknown job → 404; any exception inside a
// handler becomes a 500 for that request only. With an api_key set, every route except /healthz
// needs `Authorization: Bearer KEY` or `X-API-Key: KEY` (401 otherwise).
// Thread rules: handlers run on httplib's worker pool (`threads`); stop() may be called from any
// thread, including a signal watcher.

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "plugins/registry.h"
#include "sdxl/sdk/status.h"
#include "server/job.h"

namespace sdxl::server {

class Orchestrator;

struct HttpOptions {
  std::string host = "127.0.0.1";  ///< loopback unless configured otherwise
  int port = 7860;                 ///< 0: any free port (bind() returns it)
  std::string api_key;             ///< empty: no authentication
  std::size_t max_request_bytes = 64u << 20;
  int threads = 32;                ///< each open SSE stream holds one while it lasts
};

/// What the routes read besides the orchestrator. Optional hooks may be null.
struct HttpContext {
  Orchestrator* orchestrator = nullptr;  ///< required; must outlive the server
  std::shared_ptr<const plugins::PluginRegistry> registry;  ///< /v1/plugins, /samplers
  ServerLimits limits;                   ///< for parse_job_json
  config::Config config;                 ///< [lora] folders (for /loras), the config file's folder
  std::function<nlohmann::json()> memory_stats;       ///< the arbiter's stats_json (for /v1/stats)
  std::function<std::string()> memory_prometheus;     ///< the arbiter's Prometheus lines (for /metrics)
};

/// HTTP status for an error code: invalid_argument 400, not_found 404, unsupported 503 (shutting
/// down / queue full), out_of_memory 507, cancelled 409, others 500.
int http_status_for(sdk::StatusCode code);

class HttpServer {
 public:
  HttpServer(HttpOptions options, HttpContext context);
  ~HttpServer();  ///< stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds the listening socket; returns the port (the chosen one when options.port is 0).
  sdk::Result<int> bind();
  /// Serves until stop(); call after bind(). Returns false when listening failed.
  bool run();
  /// Stops listening, ends open event streams, waits for handlers in flight. Idempotent.
  void stop();
  /// Requests answered so far, by status class ("2xx", "4xx", "5xx").
  nlohmann::json request_counts() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sdxl::server
