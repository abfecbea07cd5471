// `sdxl serve`: the job service behind the HTTP API (native /v1 and A1111's /sdapi/v1), on
// loopback by default. SIGINT/SIGTERM shut it down gracefully: the running job or batch finishes,
// queued jobs end as cancelled, open event streams get their terminal event, then it exits 0.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <iostream>
#include <thread>

#include "cli/startup.h"
#include "memory/arbiter.h"
#include "server/orchestrator_admission.h"
#include "server/http_config.h"
#include "server/http_server.h"
#include "server/orchestrator.h"
#include "util/logging.h"

namespace sdxl::cli {
namespace {

bool parse_int(const std::string& text, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
  try {
    std::size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used != text.size() || v < lo || v > hi) return false;
    out = v;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

int run_serve(Args& args, const GlobalOptions& global_in) {
  for (const char* o : {"config", "host", "port", "api-key", "max-batch", "preview-every"}) args.option(o);
  if (!parse_or_complain(args, "serve")) return kExitUsage;
  if (!args.positionals().empty()) {
    std::cerr << "sdxl serve: unexpected argument '" << args.positionals()[0] << "'\n";
    return kExitUsage;
  }
  GlobalOptions global = global_in;
  if (auto c = args.get("config")) global.config_path = *c;  // `sdxl serve --config F` as well as `sdxl --config F serve`
  auto app = start_app(global);
  if (!app) return kExitUsage;
  auto settings = server::server_settings(app->config);
  if (!settings.ok()) return util::log_error(settings.status().message()), kExitUsage;
  auto s = std::move(settings).value();
  if (auto h = args.get("host")) s.http.host = *h;
  if (auto k = args.get("api-key")) s.http.api_key = *k;
  std::int64_t value = 0;
  if (auto p = args.get("port")) {
    if (!parse_int(*p, 0, 65535, value)) return util::log_error("--port: expected 0..65535, got '" + *p + "'"), kExitUsage;
    s.http.port = static_cast<int>(value);
  }
  if (auto b = args.get("max-batch")) {
    if (!parse_int(*b, 1, 1024, value)) return util::log_error("--max-batch: expected 1..1024, got '" + *b + "'"), kExitUsage;
    s.max_batch = value;
  }
  std::int64_t preview_every = 0;
  if (auto p = args.get("preview-every"))
    if (!parse_int(*p, 0, 100000, preview_every))
      return util::log_error("--preview-every: expected a step count, got '" + *p + "'"), kExitUsage;
  if (s.http.host != "127.0.0.1" && s.http.host != "localhost" && s.http.host != "::1" && s.http.api_key.empty())
    util::log_warn("listening on " + s.http.host + " without an API key: anyone who reaches this address can run jobs");

  // Signals are taken by one watcher thread (sigwait), so every thread started below inherits
  // the blocked mask and no handler runs in the middle of a job.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::OrchestratorOptions o;
  o.config = app->config;
  o.registry = std::shared_ptr<const plugins::PluginRegistry>(std::move(app->registry));
  o.limits = s.limits;
  o.max_batch = s.max_batch;
  o.preview_every = preview_every;
  o.overlap_decode = s.overlap_decode;
  // One owner of every byte: each job's peak is admitted by the process arbiter (the [memory]
  // budgets), and loaded models register their networks with it.
  o.admit = server::arbiter_admission(memory::process_arbiter());
  o.arbiter = &memory::process_arbiter();
  server::Orchestrator orch(o);

  server::HttpContext ctx;
  ctx.orchestrator = &orch;
  ctx.registry = o.registry;
  ctx.limits = s.limits;
  ctx.config = app->config;
  ctx.memory_stats = [] { return memory::process_arbiter().stats_json(); };
  ctx.memory_prometheus = [] { return memory::process_arbiter().prometheus_text(); };
  server::HttpServer http(s.http, ctx);
  auto port = http.bind();
  if (!port.ok()) {
    orch.shutdown(false);
    return util::log_error(port.status().message()), kExitFailure;
  }
  // The first line on stdout, for scripts and tests that started us with --port 0.
  std::cout << "sdxl serve: listening on http://" << s.http.host << ":" << port.value() << std::endl;
  util::log_info("serving on http://" + s.http.host + ":" + std::to_string(port.value()) +
                 (s.http.api_key.empty() ? "" : " (API key required)"));

  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    const timespec tick{0, 200 * 1000 * 1000};
    while (!finished) {
      const int sig = sigtimedwait(&signals, nullptr, &tick);
      if (sig != SIGINT && sig != SIGTERM) continue;
      util::log_info(std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") +
                     ": shutting down (running jobs finish, queued jobs are cancelled)");
      orch.shutdown(/*drain=*/true);
      http.stop();
      break;
    }
  });
  const bool served = http.run();
  finished = true;
  watcher.join();
  orch.shutdown(true);
  http.stop();
  if (!served) return util::log_error("the HTTP server stopped with an error"), kExitFailure;
  util::log_info("server stopped");
  return kExitOk;
}

}  // namespace

SDXL_REGISTER_COMMAND(Command{
    "serve", "run the HTTP API (native /v1 and A1111-compatible /sdapi/v1)",
    "usage: sdxl serve [--config FILE] [--host ADDR] [--port N] [--api-key KEY] [--max-batch N]\n"
    "                  [--preview-every N]\n\n"
    "Serves jobs over HTTP: POST /v1/jobs, GET /v1/jobs/ID, /v1/jobs/ID/events (Server-Sent Events),\n"
    "DELETE /v1/jobs/ID, /v1/models, /v1/plugins, /v1/stats, /healthz, /metrics, and A1111's\n"
    "/sdapi/v1/txt2img, img2img, samplers, schedulers, sd-models, sd-vae, loras, options, progress,\n"
    "interrupt and png-info. Defaults come from the configuration's [server] section (127.0.0.1:7860).\n"
    "--port 0 picks a free port; the first line on stdout names the address. With an API key, every\n"
    "route except /healthz needs `Authorization: Bearer KEY` or `X-API-Key: KEY`. --preview-every N\n"
    "adds a preview PNG to every Nth progress event. Without a configured model the built-in demo\n"
    "model serves. SIGINT/SIGTERM: running jobs finish, queued ones are cancelled, then exit 0.\n"
    "docs/server.md describes the API.",
    run_serve})

}  // namespace sdxl::cli
