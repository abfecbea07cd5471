// The A1111-compatible subset under /sdapi/v1/ (request and response shapes of A1111's
// modules/api/api.py and models.py), translated onto the orchestrator.
#include <chrono>
#include <optional>
#include <random>

#include "pipeline/vae_file.h"
#include "server/a1111_request.h"
#include "server/a1111_samplers.h"
#include "server/http_routes.h"

namespace sdxl::server {
namespace {

using json = nlohmann::json;

std::optional<std::string> configured_vae_name(const config::Config& c) {
  if (c.vae_path.empty()) return std::nullopt;
  return pipeline::vae_display_name(c.vae_path);
}

std::int64_t random_seed() {
  static std::mutex m;
  static std::mt19937_64 gen{std::random_device{}()};
  std::lock_guard<std::mutex> lock(m);
  return static_cast<std::int64_t>(gen() & 0x7fffffff);
}

void generate(HttpServer::Impl& impl, const httplib::Request& req, httplib::Response& res, bool img2img) {
  auto body = parse_json_body(req, res);
  if (!body) return;
  Orchestrator& orch = impl.orch();
  auto jobs = a1111_to_jobs(*body, img2img, impl.ctx.limits, orch.samplers(), random_seed());
  if (!jobs.ok()) return reply_status(res, jobs.status());
  // Check every job before queueing any, so a bad request leaves nothing behind.
  std::vector<JobSpec> specs;
  for (const auto& j : jobs.value().jobs) {
    auto spec = parse_job_json(j, impl.ctx.limits);
    if (!spec.ok()) return reply_status(res, spec.status());
    spec.value().client = client_name(req);
    specs.push_back(std::move(spec).value());
  }
  std::vector<std::string> ids;
  for (auto& s : specs) {
    auto id = orch.submit(std::move(s));
    if (!id.ok()) {
      for (const auto& done : ids) orch.cancel(done);
      return reply_status(res, id.status());
    }
    ids.push_back(id.value());
  }
  std::vector<JobSnapshot> results;
  for (const auto& id : ids) {
    auto snap = wait_for_job(orch, id);
    if (!snap) return reply_error(res, 500, "job " + id + " was forgotten before it finished");
    if (snap->state == JobState::failed) {
      for (const auto& other : ids) orch.cancel(other);
      const int status = snap->error_code == sdk::StatusCode::ok ? 500 : http_status_for(snap->error_code);
      return reply_error(res, status, snap->error);
    }
    // Interrupted (/interrupt, shutdown): like A1111, answer with what was finished.
    if (snap->state == JobState::done) results.push_back(std::move(*snap));
  }
  reply_json(res, 200, a1111_response(jobs.value(), results));
}

json samplers_json(Orchestrator& orch) {
  json list = json::array();
  std::map<std::string, std::size_t> index;  // A1111 name → position in list
  for (const auto& f : orch.samplers()) {
    const auto [name, schedule] = feature_to_a1111(f);
    if (schedule != "Automatic") continue;  // schedules are listed by /schedulers
    if (!index.count(name)) {
      index[name] = list.size();
      list.push_back({{"name", name}, {"aliases", json::array()}, {"options", json::object()}});
    }
    list[index[name]]["aliases"].push_back(f);
  }
  return list;
}

json schedulers_json(Orchestrator& orch) {
  const auto features = orch.samplers();
  json list = json::array();
  for (const auto& s : a1111_schedules()) {
    const std::string suffix = s.suffix;
    bool offered = suffix.empty();
    for (const auto& f : features)
      offered = offered || (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0);
    if (offered)
      list.push_back({{"name", s.name}, {"label", s.label}, {"aliases", nullptr}, {"default_rho", -1},
                      {"need_inner_model", false}});
  }
  return list;
}

json progress_json(HttpServer::Impl& impl, bool skip_image) {
  Orchestrator& orch = impl.orch();
  const auto active = orch.active_jobs();
  const auto running = orch.running_job();
  json state = {{"skipped", false}, {"interrupted", false}, {"stopping_generation", false}, {"job", ""},
                {"job_count", active.size()}, {"job_timestamp", "0"}, {"job_no", 0}, {"sampling_step", 0},
                {"sampling_steps", 0}};
  json out = {{"progress", 0.0}, {"eta_relative", 0.0}, {"state", state}, {"current_image", nullptr}, {"textinfo", nullptr}};
  if (!running) return out;
  auto snap = orch.snapshot(*running);
  if (!snap) return out;
  auto tap = impl.progress_tap;  // shared: a late event callback never outlives it
  std::unique_lock<std::mutex> lock(tap->mutex);
  if (tap->job != *running) {  // a new job runs: restart the clock and follow its previews
    const std::uint64_t old = tap->token;
    const std::string id = *running;
    tap->job = id;
    tap->token = 0;
    tap->started = std::chrono::steady_clock::now();
    tap->preview.clear();
    lock.unlock();  // no orchestrator call under our lock (its callbacks take it)
    if (old) orch.unsubscribe(old);
    const auto token = orch.subscribe(id, [id, tap](const JobEvent& e) {
      if (e.kind != JobEvent::Kind::progress || e.preview_png.empty()) return;
      std::lock_guard<std::mutex> l(tap->mutex);
      if (tap->job == id) tap->preview = e.preview_png;
    });
    lock.lock();
    if (tap->job == id && tap->token == 0) {
      tap->token = token;
    } else if (token) {
      lock.unlock();
      orch.unsubscribe(token);
      lock.lock();
    }
  }
  auto& t = *tap;
  const double p = snap->total > 0 ? static_cast<double>(snap->step) / static_cast<double>(snap->total) : 0.0;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t.started).count();
  out["progress"] = p;
  out["eta_relative"] = p > 0 ? elapsed / p - elapsed : 0.0;
  out["state"]["job"] = *running;
  out["state"]["sampling_step"] = snap->step;
  out["state"]["sampling_steps"] = snap->total;
  if (!skip_image && !t.preview.empty()) out["current_image"] = base64_encode(t.preview.data(), t.preview.size());
  return out;
}

}  // namespace

void register_a1111_routes(HttpServer::Impl& impl) {
  auto& svr = impl.server;
  HttpServer::Impl* p = &impl;
  using Req = httplib::Request;
  using Res = httplib::Response;
  svr.Post("/sdapi/v1/txt2img", [p](const Req& req, Res& res) { generate(*p, req, res, false); });
  svr.Post("/sdapi/v1/img2img", [p](const Req& req, Res& res) { generate(*p, req, res, true); });
  svr.Get("/sdapi/v1/samplers", [p](const Req&, Res& res) { reply_json(res, 200, samplers_json(p->orch())); });
  svr.Get("/sdapi/v1/schedulers", [p](const Req&, Res& res) { reply_json(res, 200, schedulers_json(p->orch())); });
  svr.Get("/sdapi/v1/sd-models", [p](const Req&, Res& res) {
    json list = json::array();
    // Names only: server paths never leave the server.
    for (const auto& m : p->orch().models())
      list.push_back({{"title", m.name}, {"model_name", m.name}, {"hash", nullptr}, {"sha256", nullptr},
                      {"filename", m.name}, {"config", nullptr}});
    reply_json(res, 200, list);
  });
  // The VAE of [model] vae, by its name only (like the models: paths stay on the server); none
  // configured: an empty list, and the options say "Automatic" (the checkpoint's own).
  svr.Get("/sdapi/v1/sd-vae", [p](const Req&, Res& res) {
    json list = json::array();
    if (const auto name = configured_vae_name(p->ctx.config))
      list.push_back({{"model_name", *name}, {"filename", *name}});
    reply_json(res, 200, list);
  });
  svr.Get("/sdapi/v1/loras", [p](const Req&, Res& res) {
    json list = json::array();
    for (const auto& name : p->orch().loras())
      list.push_back({{"name", name}, {"alias", name}, {"path", name}, {"metadata", json::object()}});
    reply_json(res, 200, list);
  });
  // The ControlNet extension's lists (its clients fill their drop-downs from them).
  svr.Get("/controlnet/model_list", [p](const Req&, Res& res) {
    reply_json(res, 200, {{"model_list", p->orch().controlnets()}});
  });
  svr.Get("/controlnet/module_list", [p](const Req&, Res& res) {
    json modules = json::array({"none"});
    if (p->ctx.registry)
      for (const auto& name : p->ctx.registry->names(sdk::FeatureKind::controlnet_type)) modules.push_back(name);
    reply_json(res, 200, {{"module_list", modules}});
  });
  svr.Get("/sdapi/v1/options", [p](const Req&, Res& res) {
    reply_json(res, 200, {{"sd_model_checkpoint", p->orch().current_model()},
                          {"sd_vae", configured_vae_name(p->ctx.config).value_or("Automatic")},
                          {"samples_format", "png"}, {"CLIP_stop_at_last_layers", 1}});
  });
  svr.Post("/sdapi/v1/options", [p](const Req& req, Res& res) {
    auto body = parse_json_body(req, res);
    if (!body) return;
    if (auto it = body->find("sd_model_checkpoint"); it != body->end() && !it->is_null()) {
      if (!it->is_string()) return reply_error(res, 400, "sd_model_checkpoint: expected a string");
      if (auto st = p->orch().select_model(it->get<std::string>()); !st.ok()) return reply_status(res, st);
    }
    reply_json(res, 200, nullptr);  // A1111 answers null; other options are accepted and ignored
  });
  svr.Get("/sdapi/v1/progress", [p](const Req& req, Res& res) {
    const std::string skip = req.get_param_value("skip_current_image");
    reply_json(res, 200, progress_json(*p, skip == "true" || skip == "1" || skip == "True"));
  });
  svr.Post("/sdapi/v1/interrupt", [p](const Req&, Res& res) {
    if (auto running = p->orch().running_job()) p->orch().cancel(*running);
    reply_json(res, 200, json::object());
  });
  svr.Post("/sdapi/v1/png-info", [](const Req& req, Res& res) {
    auto body = parse_json_body(req, res);
    if (!body) return;
    auto it = body->find("image");
    if (it == body->end() || !it->is_string() || it->get<std::string>().empty())
      return reply_error(res, 400, "image: expected a base64 PNG string");
    auto info = a1111_png_info(it->get<std::string>());
    if (!info.ok()) return reply_status(res, info.status());
    reply_json(res, 200, info.value());
  });
}

}  // namespace sdxl::server
