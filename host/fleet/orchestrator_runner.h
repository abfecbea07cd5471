#pragma once
// The fleet worker's JobRunner over the server's Orchestrator: a Redis job is parsed exactly as
// POST /v1/jobs parses it (server::parse_job_json), submitted to the same orchestrator (so model
// switching, LoRAs, batching and memory admission behave as in `sdxl serve`), and waited for.
// Progress events are forwarded on the calling thread, as FleetWorker requires.

#include <mutex>
#include <string>
#include <vector>

#include "fleet/fleet_worker.h"
#include "server/job.h"
#include "server/orchestrator.h"

namespace sdxl::fleet {

class OrchestratorRunner : public JobRunner {
 public:
  OrchestratorRunner(server::Orchestrator& orchestrator, server::ServerLimits limits)
      : orchestrator_(orchestrator), limits_(limits) {}

  /// Errors: faults found before the job runs (bad fields, unknown model or LoRA: what the HTTP
  /// API answers with 400/404) keep their code (final: dead letter at once). A busy or
  /// shutting-down orchestrator and any failure while running (which may be this worker's
  /// setup or memory, not the job) become `internal`: retried on another delivery, dead-lettered
  /// after max_attempts with the last error.
  sdk::Result<JobOutput> run(const std::string& job_id, const std::string& job_json, const ProgressFn& progress) override;
  /// The model loaded in memory now (empty before the first job).
  std::vector<std::string> models() const override;
  /// The LoRA set of the last job run (what the orchestrator keeps merged until a switch).
  std::vector<std::string> loras() const override;

 private:
  server::Orchestrator& orchestrator_;
  server::ServerLimits limits_;
  mutable std::mutex mutex_;
  std::vector<std::string> last_loras_;
};

}  // namespace sdxl::fleet
