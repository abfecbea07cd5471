#pragma once
// Private to the HTTP layer (included only by host/server/http*.cpp and a1111*.cpp): the server's
// state shared by the route files, and the reply helpers every route uses so errors look the
// same everywhere: {"error": "<code>", "detail": "<message naming the field>"}.

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <vector>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "server/http_server.h"
#include "server/job_state.h"
#include "server/orchestrator.h"
#include "server/sse.h"

namespace sdxl::server {

/// What A1111's /progress shows about the running job: when it was first seen running and its
/// latest preview (followed through the job's progress events).
struct ProgressTap {
  std::mutex mutex;
  std::string job;
  std::chrono::steady_clock::time_point started;
  std::vector<unsigned char> preview;
  std::uint64_t token = 0;  ///< subscription to `job`; ended by HttpServer::stop()
};

struct HttpServer::Impl {
  HttpOptions options;
  HttpContext ctx;
  httplib::Server server;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> count_2xx{0}, count_4xx{0}, count_5xx{0};
  std::mutex channels_mutex;
  std::set<std::shared_ptr<SseChannel>> channels;  ///< open event streams, closed on stop()
  std::shared_ptr<ProgressTap> progress_tap = std::make_shared<ProgressTap>();

  Orchestrator& orch() { return *ctx.orchestrator; }
};

void reply_json(httplib::Response& res, int status, const nlohmann::json& body);
void reply_error(httplib::Response& res, int status, const std::string& detail);
void reply_status(httplib::Response& res, const sdk::Status& status);

/// The body as a JSON object; on failure replies 400 (naming the parse error's position) and
/// returns nullopt.
std::optional<nlohmann::json> parse_json_body(const httplib::Request& req, httplib::Response& res);

/// Who asked, for per-client fairness: X-Client-Id when given, else the remote address.
std::string client_name(const httplib::Request& req);

/// Waits until job `id` reaches a terminal state and returns its final snapshot (nullopt when
/// the job is unknown or was forgotten).
std::optional<JobSnapshot> wait_for_job(Orchestrator& orch, const std::string& id);

/// JSON body of an SSE event for `e` (previews as base64 PNG).
nlohmann::json event_json(Orchestrator& orch, const JobEvent& e);

void register_native_routes(HttpServer::Impl& impl);
void register_a1111_routes(HttpServer::Impl& impl);

/// /v1/stats: {"orchestrator": stats_json, "http": request counts, "memory": the arbiter's stats}.
nlohmann::json server_stats_json(HttpServer::Impl& impl);

/// /metrics: Prometheus text exposition format 0.0.4.
std::string prometheus_text(HttpServer::Impl& impl);

}  // namespace sdxl::server
