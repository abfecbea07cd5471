// `sdxl worker`: one member of a fleet behind Redis Streams. Jobs (the native API's JSON) are read
// as a consumer of a consumer group and run through the same orchestrator as `sdxl serve`; results
// and progress events go back to Redis (see host/fleet/fleet_worker.h, docs/deployment.md).
#include <atomic>
#include <csignal>
#include <iostream>

#include "cli/startup.h"
#include "fleet/fleet_worker.h"
#include "fleet/orchestrator_runner.h"
#include "server/orchestrator.h"
#include "util/logging.h"

namespace sdxl::cli {
namespace {

std::atomic<bool> g_stop{false};
void on_stop_signal(int) { g_stop = true; }

// "--name N" as a number in [min, max]; the message names the flag.
sdk::Result<std::int64_t> number_flag(const Args& args, const std::string& name, std::int64_t fallback, std::int64_t min,
                                      std::int64_t max) {
  auto v = args.get(name);
  if (!v) return fallback;
  std::size_t used = 0;
  std::int64_t n = 0;
  try {
    n = std::stoll(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v->size() || n < min || n > max)
    return sdk::invalid_argument("--" + name + ": expected a whole number in [" + std::to_string(min) + ", " +
                                 std::to_string(max) + "], got '" + *v + "'");
  return n;
}

int run_worker(Args& args, const GlobalOptions& global_in) {
  for (const char* o : {"redis", "stream", "group", "consumer", "claim-idle-ms", "max-attempts", "heartbeat-ms",
                        "block-ms", "max-jobs", "result-ttl-s", "config"})
    args.option(o);
  if (!parse_or_complain(args, "worker")) return kExitUsage;
  if (!args.positionals().empty()) {
    std::cerr << "sdxl worker: unexpected argument '" << args.positionals()[0] << "'\n";
    return kExitUsage;
  }
  GlobalOptions global = global_in;
  if (auto c = args.get("config")) global.config_path = *c;

  fleet::WorkerOptions opt;
  auto endpoint = fleet::parse_redis_url(args.get_or("redis", "redis://127.0.0.1:6379"));
  if (!endpoint.ok()) return util::log_error(endpoint.status().message()), kExitUsage;
  opt.endpoint = endpoint.value();
  opt.keys.base = args.get_or("stream", "sdxl:jobs");
  opt.group = args.get_or("group", "workers");
  opt.consumer = args.get_or("consumer", fleet::default_consumer_name());
  if (opt.keys.base.empty() || opt.group.empty() || opt.consumer.empty())
    return util::log_error("--stream, --group and --consumer must not be empty"), kExitUsage;
  struct NumberFlag {
    const char* name;
    std::int64_t* target;
    std::int64_t min, max;
  };
  std::int64_t block_ms = opt.block_ms;
  const NumberFlag numbers[] = {{"claim-idle-ms", &opt.claim_idle_ms, 100, 86400000},
                                {"max-attempts", &opt.max_attempts, 1, 1000},
                                {"heartbeat-ms", &opt.heartbeat_ms, 50, 600000},
                                {"block-ms", &block_ms, 10, 60000},
                                {"max-jobs", &opt.max_jobs, 0, INT64_MAX},
                                {"result-ttl-s", &opt.result_ttl_s, 1, 365LL * 86400}};
  for (const auto& f : numbers) {
    auto n = number_flag(args, f.name, *f.target, f.min, f.max);
    if (!n.ok()) return util::log_error(n.status().message()), kExitUsage;
    *f.target = n.value();
  }
  opt.block_ms = static_cast<int>(block_ms);

  auto app = start_app(global);
  if (!app) return kExitUsage;
  server::OrchestratorOptions orch;
  orch.config = app->config;
  orch.registry = std::shared_ptr<const plugins::PluginRegistry>(std::move(app->registry));
  orch.max_batch = 1;  // one job at a time: parallelism comes from more workers
  server::Orchestrator orchestrator(std::move(orch));
  fleet::OrchestratorRunner runner(orchestrator, server::ServerLimits{});

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  fleet::FleetWorker worker(opt, runner);
  auto st = worker.run(g_stop);
  orchestrator.shutdown(true);
  if (!st.ok()) return util::log_error(st.message()), kExitFailure;
  return kExitOk;
}

}  // namespace

SDXL_REGISTER_COMMAND(Command{
    "worker", "serve jobs from a Redis Streams queue (a fleet member)",
    "usage: sdxl worker [--redis redis://HOST:PORT[/DB]] [--stream sdxl:jobs] [--group workers]\n"
    "                   [--consumer NAME] [--claim-idle-ms 30000] [--max-attempts 3] [--heartbeat-ms 1000]\n"
    "                   [--block-ms 500] [--max-jobs N] [--result-ttl-s 86400] [--config FILE]\n\n"
    "Joins consumer group --group on --stream (and on per-model streams of the model it holds), runs\n"
    "each job (the JSON of POST /v1/jobs) through the orchestrator, stores the result under\n"
    "STREAM:result:ID (PNG images + metadata) and progress events under STREAM:events:ID, then\n"
    "acknowledges. Entries left pending longer than --claim-idle-ms by a dead worker are taken over;\n"
    "a job delivered more than --max-attempts times, or refused as invalid, goes to STREAM:dead.\n"
    "The worker advertises its model in STREAM:worker:NAME (TTL = 3 heartbeats) for affinity routing.\n"
    "SIGINT/SIGTERM: finish the running job, then exit. --max-jobs N: exit after N jobs (benchmarks).",
    run_worker})

}  // namespace sdxl::cli
