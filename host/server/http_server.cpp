#include "server/http_server.h"

#include <chrono>
#include <condition_variable>

#include "server/http_routes.h"
#include <spdlog/spdlog.h>

#include "util/logging.h"

namespace sdxl::server {

int http_status_for(sdk::StatusCode code) {
  switch (code) {
    case sdk::StatusCode::ok: return 200;
    case sdk::StatusCode::invalid_argument:
    case sdk::StatusCode::corrupt_data: return 400;
    case sdk::StatusCode::not_found: return 404;
    case sdk::StatusCode::cancelled: return 409;
    case sdk::StatusCode::unsupported: return 503;
    case sdk::StatusCode::out_of_memory: return 507;
    case sdk::StatusCode::internal: return 500;
  }
  return 500;
}

void reply_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  // Replace invalid UTF-8 (a prompt is the client's text) instead of throwing mid-reply.
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void reply_error(httplib::Response& res, int status, const std::string& detail) {
  const char* code = status == 400 ? "bad_request" : status == 401 ? "unauthorized" : status == 404 ? "not_found"
                   : status == 409 ? "conflict" : status == 413 ? "payload_too_large" : status == 503 ? "unavailable"
                   : status == 507 ? "out_of_memory" : "internal_error";
  reply_json(res, status, {{"error", code}, {"detail", detail}});
}

void reply_status(httplib::Response& res, const sdk::Status& status) {
  reply_error(res, http_status_for(status.code()), status.message());
}

std::optional<nlohmann::json> parse_json_body(const httplib::Request& req, httplib::Response& res) {
  nlohmann::json j = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Parse again with exceptions only to get the position for the message.
    std::string where = "malformed JSON";
    try {
      const auto unused = nlohmann::json::parse(req.body);  // throws here: the document is malformed
      (void)unused;
    } catch (const nlohmann::json::parse_error& e) {
      where = "malformed JSON at byte " + std::to_string(e.byte);
    }
    reply_error(res, 400, req.body.empty() ? "empty request body (expected a JSON object)" : where);
    return std::nullopt;
  }
  if (!j.is_object()) {
    reply_error(res, 400, std::string("expected a JSON object, got ") + j.type_name());
    return std::nullopt;
  }
  return j;
}

std::string client_name(const httplib::Request& req) {
  if (req.has_header("X-Client-Id")) return req.get_header_value("X-Client-Id").substr(0, 128);
  return req.remote_addr;
}

std::optional<JobSnapshot> wait_for_job(Orchestrator& orch, const std::string& id) {
  // Woken by the job's events; the timed re-check covers an event that fired before subscribing.
  struct Waiter {
    std::mutex m;
    std::condition_variable cv;
    bool finished = false;
  };
  auto w = std::make_shared<Waiter>();
  const auto token = orch.subscribe(id, [w](const JobEvent& e) {
    if (e.kind == JobEvent::Kind::done || e.kind == JobEvent::Kind::failed || e.kind == JobEvent::Kind::cancelled) {
      std::lock_guard<std::mutex> lock(w->m);
      w->finished = true;
      w->cv.notify_all();
    }
  });
  std::optional<JobSnapshot> snap;
  for (;;) {
    snap = orch.snapshot(id);
    if (!snap || is_terminal(snap->state)) break;
    std::unique_lock<std::mutex> lock(w->m);
    w->cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return w->finished; });
  }
  if (token) orch.unsubscribe(token);
  return snap;
}

nlohmann::json event_json(Orchestrator& orch, const JobEvent& e) {
  nlohmann::json j = {{"id", e.job_id}, {"event", to_string(e.kind)}};
  switch (e.kind) {
    case JobEvent::Kind::progress:
      j["step"] = e.step;
      j["total"] = e.total;
      if (!e.preview_png.empty()) j["preview"] = base64_encode(e.preview_png.data(), e.preview_png.size());
      break;
    case JobEvent::Kind::done:
      if (auto s = orch.snapshot(e.job_id)) j = s->to_json(false), j["event"] = "done";
      break;
    case JobEvent::Kind::failed:
    case JobEvent::Kind::cancelled: j["error"] = e.error; break;
    default: break;
  }
  return j;
}

HttpServer::HttpServer(HttpOptions options, HttpContext context) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->ctx = std::move(context);
  auto& svr = impl_->server;
  Impl* impl = impl_.get();
  const int threads = std::max(4, impl->options.threads);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_payload_max_length(impl->options.max_request_bytes);
  svr.set_read_timeout(30, 0);
  svr.set_write_timeout(30, 0);

  svr.set_pre_routing_handler([impl](const httplib::Request& req, httplib::Response& res) {
    const auto& key = impl->options.api_key;
    if (key.empty() || req.path == "/healthz") return httplib::Server::HandlerResponse::Unhandled;
    std::string given;
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) == 0) given = auth.substr(7);
    else if (req.has_header("X-API-Key")) given = req.get_header_value("X-API-Key");
    // Compare in constant time so the key cannot be guessed byte by byte from response times.
    unsigned diff = given.size() != key.size();
    for (std::size_t i = 0; i < key.size(); ++i) diff |= static_cast<unsigned>(key[i] ^ (i < given.size() ? given[i] : 0));
    if (diff == 0) return httplib::Server::HandlerResponse::Unhandled;
    reply_error(res, 401, "missing or wrong API key (send `Authorization: Bearer KEY` or `X-API-Key: KEY`)");
    return httplib::Server::HandlerResponse::Handled;
  });
  svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    util::log_error("HTTP " + req.method + " " + req.path + ": " + what);
    reply_error(res, 500, "internal error: " + what);
  });
  // Errors httplib produces itself (no route: 404, body too large: 413, bad request line: 400)
  // get the same JSON shape; replies a route already wrote are left alone.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const int status = res.status;
    std::string detail = status == 404 ? "no such route: " + req.method + " " + req.path
                       : status == 413 ? "request body too large" : "request refused";
    reply_error(res, status, detail);
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_logger([impl](const httplib::Request& req, const httplib::Response& res) {
    if (res.status >= 500) ++impl->count_5xx;
    else if (res.status >= 400) ++impl->count_4xx;
    else ++impl->count_2xx;
    spdlog::debug("HTTP " + req.method + " " + req.path + " -> " + std::to_string(res.status));
  });

  register_native_routes(*impl);
  register_a1111_routes(*impl);
}

HttpServer::~HttpServer() { stop(); }

sdk::Result<int> HttpServer::bind() {
  auto& o = impl_->options;
  int port = -1;
  if (o.port == 0) port = impl_->server.bind_to_any_port(o.host);
  else if (impl_->server.bind_to_port(o.host, o.port)) port = o.port;
  if (port <= 0)
    return sdk::unsupported("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                            " (address in use, or not an address of this machine)");
  return port;
}

bool HttpServer::run() {
  if (impl_->stopping) return true;
  return impl_->server.listen_after_bind();
}

void HttpServer::stop() {
  if (impl_->stopping.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(impl_->channels_mutex);
    for (const auto& ch : impl_->channels) ch->close();
  }
  std::uint64_t token = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->progress_tap->mutex);
    std::swap(token, impl_->progress_tap->token);
  }
  if (token) impl_->ctx.orchestrator->unsubscribe(token);
  impl_->server.stop();
}

nlohmann::json HttpServer::request_counts() const {
  return {{"2xx", impl_->count_2xx.load()}, {"4xx", impl_->count_4xx.load()}, {"5xx", impl_->count_5xx.load()}};
}

}  // namespace sdxl::server
