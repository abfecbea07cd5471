// The native API: /v1/jobs (submit, status, Server-Sent Events, cancel), /v1/models, /v1/plugins,
// /v1/stats, /healthz and /metrics.
#include <chrono>

#include "memory/ledger.h"
#include "plugins/describe.h"
#include "server/http_routes.h"

namespace sdxl::server {
namespace {

void post_job(HttpServer::Impl& impl, const httplib::Request& req, httplib::Response& res) {
  auto body = parse_json_body(req, res);
  if (!body) return;
  auto spec = parse_job_json(*body, impl.ctx.limits);
  if (!spec.ok()) return reply_status(res, spec.status());
  if (spec.value().client.empty()) spec.value().client = client_name(req);
  auto id = impl.orch().submit(std::move(spec).value());
  if (!id.ok()) return reply_status(res, id.status());
  reply_json(res, 200, {{"id", id.value()}, {"state", "queued"}});
}

void get_job(HttpServer::Impl& impl, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  auto snap = impl.orch().snapshot(id);
  if (!snap) return reply_error(res, 404, "no job '" + id + "'");
  const bool images = req.get_param_value("images") != "0" && req.get_param_value("images") != "false";
  reply_json(res, 200, snap->to_json(images));
}

void delete_job(HttpServer::Impl& impl, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  if (impl.orch().cancel(id)) return reply_json(res, 200, {{"id", id}, {"cancelled", true}});
  auto snap = impl.orch().snapshot(id);
  if (!snap) return reply_error(res, 404, "no job '" + id + "'");
  reply_json(res, 409, {{"error", "conflict"},
                        {"detail", "job '" + id + "' already ended (" + std::string(to_string(snap->state)) + ")"},
                        {"state", to_string(snap->state)}});
}

// GET /v1/jobs/{id}/events: the job's current state first (queued/started), then its events up
// to and including exactly one terminal event; then the stream ends.
void job_events(HttpServer::Impl& impl, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  auto snap = impl.orch().snapshot(id);
  if (!snap) return reply_error(res, 404, "no job '" + id + "'");
  auto channel = std::make_shared<SseChannel>();
  // Snapshot before subscribing: an event between the two is missed rather than reordered, and a
  // job that ended meanwhile still delivers its terminal event on subscribe.
  if (snap->state == JobState::queued)
    channel->push("queued", {{"id", id}, {"event", "queued"}, {"queue_position", snap->queue_position}});
  else if (snap->state == JobState::running)
    channel->push("started", {{"id", id}, {"event", "started"}, {"step", snap->step}, {"total", snap->total}});
  Orchestrator* orch = &impl.orch();
  const auto token = orch->subscribe(id, [channel, orch](const JobEvent& e) {
    channel->push(to_string(e.kind), event_json(*orch, e));
  });
  {
    std::lock_guard<std::mutex> lock(impl.channels_mutex);
    if (impl.stopping) channel->close();
    impl.channels.insert(channel);
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  auto last_write = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  res.set_chunked_content_provider(
      "text/event-stream",
      [channel, last_write](size_t, httplib::DataSink& sink) {
        std::string event;
        bool finished = false;
        if (channel->pop(event, std::chrono::milliseconds(250), finished)) {
          *last_write = std::chrono::steady_clock::now();
          return sink.write(event.data(), event.size());
        }
        if (finished) {
          sink.done();
          return true;
        }
        // A comment line now and then: proxies keep the stream open and a vanished client is
        // noticed (the write fails) even while the job sits in the queue.
        if (std::chrono::steady_clock::now() - *last_write > std::chrono::seconds(10)) {
          *last_write = std::chrono::steady_clock::now();
          static const std::string ping = ": keep-alive\n\n";
          return sink.write(ping.data(), ping.size());
        }
        return true;
      },
      [&impl, channel, token, orch](bool) {
        if (token) orch->unsubscribe(token);
        channel->close();
        std::lock_guard<std::mutex> lock(impl.channels_mutex);
        impl.channels.erase(channel);
      });
}

nlohmann::json models_json(Orchestrator& orch) {
  nlohmann::json list = nlohmann::json::array();
  const std::string current = orch.current_model();
  for (const auto& m : orch.models())
    list.push_back({{"name", m.name}, {"loaded", m.loaded}, {"current", m.name == current}});
  return {{"models", list}, {"current", current}};
}

}  // namespace

nlohmann::json server_stats_json(HttpServer::Impl& impl) {
  nlohmann::json j = {{"orchestrator", impl.orch().stats_json()},
                      {"http", {{"2xx", impl.count_2xx.load()}, {"4xx", impl.count_4xx.load()}, {"5xx", impl.count_5xx.load()}}}};
  if (impl.ctx.memory_stats) j["memory"] = impl.ctx.memory_stats();
  // The ledger as it stands (the load test checks it returns to its baseline).
  nlohmann::json ledger = {{"devices", nlohmann::json::object()}, {"entries", 0}, {"leases", 0}};
  for (const auto& [device, a] : memory::process_ledger().accounts())
    ledger["devices"][device] = {{"used", a.used}, {"peak", a.peak}, {"budget", a.budget}};
  for (const auto& e : memory::process_ledger().entries()) {
    ledger["entries"] = ledger["entries"].get<int>() + 1;
    if (e.lease) ledger["leases"] = ledger["leases"].get<int>() + 1;
  }
  j["ledger"] = ledger;
  return j;
}

void register_native_routes(HttpServer::Impl& impl) {
  auto& svr = impl.server;
  HttpServer::Impl* p = &impl;
  svr.Post("/v1/jobs", [p](const httplib::Request& req, httplib::Response& res) { post_job(*p, req, res); });
  svr.Get(R"(/v1/jobs/([A-Za-z0-9_.-]+))", [p](const httplib::Request& req, httplib::Response& res) { get_job(*p, req, res); });
  svr.Delete(R"(/v1/jobs/([A-Za-z0-9_.-]+))",
             [p](const httplib::Request& req, httplib::Response& res) { delete_job(*p, req, res); });
  svr.Get(R"(/v1/jobs/([A-Za-z0-9_.-]+)/events)",
          [p](const httplib::Request& req, httplib::Response& res) { job_events(*p, req, res); });
  svr.Get("/v1/jobs", [p](const httplib::Request&, httplib::Response& res) {
    reply_json(res, 200, {{"active", p->orch().active_jobs()}});
  });
  svr.Get("/v1/models", [p](const httplib::Request&, httplib::Response& res) {
    nlohmann::json j = models_json(p->orch());
    j["loras"] = p->orch().loras();
    j["controlnets"] = p->orch().controlnets();
    reply_json(res, 200, j);
  });
  svr.Get("/v1/plugins", [p](const httplib::Request&, httplib::Response& res) {
    if (!p->ctx.registry) return reply_json(res, 200, {{"plugins", nlohmann::json::array()}, {"rejected", nlohmann::json::array()}});
    reply_json(res, 200, plugins::registry_json(*p->ctx.registry));
  });
  svr.Get("/v1/stats", [p](const httplib::Request&, httplib::Response& res) { reply_json(res, 200, server_stats_json(*p)); });
  svr.Get("/healthz", [p](const httplib::Request&, httplib::Response& res) {
    reply_json(res, p->stopping ? 503 : 200, {{"status", p->stopping ? "stopping" : "ok"}});
  });
  svr.Get("/metrics", [p](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(prometheus_text(*p), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace sdxl::server
