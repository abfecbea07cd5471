#include "cli/bench_serve.h"

#include <chrono>
#include <thread>

#include "server/orchestrator.h"

namespace sdxl::cli {

sdk::Result<nlohmann::json> bench_serve(const std::shared_ptr<pipeline::SdxlModel>& model,
                                        const plugins::PluginRegistry& registry, const ServeBenchJob& job) {
  using Clock = std::chrono::steady_clock;
  nlohmann::json out = {{"jobs", job.jobs}, {"size", job.size}, {"steps", job.steps}};
  for (const bool overlap : {false, true}) {
    server::OrchestratorOptions o;
    o.registry = std::shared_ptr<const plugins::PluginRegistry>(&registry, [](const plugins::PluginRegistry*) {});
    o.load_model = [model](const pipeline::ModelSpec&) -> sdk::Result<std::shared_ptr<pipeline::SdxlModel>> {
      return model;  // whatever the catalogue names: the model this bench loaded
    };
    o.max_batch = 1;  // one job per UNet batch: only the decode overlap differs between the runs
    o.overlap_decode = overlap;
    o.start_paused = true;
    o.limits.max_width = o.limits.max_height = std::max<std::int64_t>(job.size, o.limits.max_width);
    o.limits.max_pixels = o.limits.max_width * o.limits.max_height;
    server::Orchestrator orchestrator(o);
    std::vector<std::string> ids;
    for (std::int64_t i = 0; i < job.jobs; ++i) {
      server::JobSpec spec;
      spec.prompt = job.prompt;
      spec.negative = job.negative;
      spec.width = spec.height = job.size;
      spec.size_set = spec.steps_set = true;
      spec.steps = job.steps;
      spec.sampler = "euler";
      spec.seed = 1 + i;
      auto id = orchestrator.submit(spec);
      if (!id.ok()) return id.status();
      ids.push_back(id.value());
    }
    const auto start = Clock::now();
    orchestrator.resume();
    double last_ms = 0, vae_ms = 0;
    for (const auto& id : ids) {
      for (;;) {
        auto s = orchestrator.snapshot(id);
        if (!s) return sdk::internal_error("bench serve: job " + id + " vanished");
        if (server::is_terminal(s->state)) {
          if (s->state != server::JobState::done) return sdk::internal_error("bench serve: " + id + ": " + s->error);
          vae_ms += s->timings.vae * 1e3;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      last_ms = std::chrono::duration<double>(Clock::now() - start).count() * 1e3;
    }
    const auto stats = orchestrator.stats_json();
    orchestrator.shutdown(true);
    out[overlap ? "overlapped" : "in_turn"] = {{"wall_ms", last_ms},
                                               {"jobs_per_s", job.jobs / (last_ms / 1e3)},
                                               {"vae_ms_per_job", vae_ms / static_cast<double>(job.jobs)},
                                               {"overlapped_decodes", stats.value("overlapped_decodes", 0)}};
  }
  out["overlapped_over_in_turn"] = out["overlapped"]["wall_ms"].get<double>() / out["in_turn"]["wall_ms"].get<double>();
  return out;
}

}  // namespace sdxl::cli
