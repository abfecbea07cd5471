#pragma once
// `sdxl bench`'s server throughput figure: the same jobs through the job orchestrator twice, side
// by side, once decoding each job before the next starts and once with [server] overlap_decode
// (the next job denoises while the previous one decodes).

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "pipeline/sdxl_model.h"
#include "plugins/registry.h"

namespace sdxl::cli {

struct ServeBenchJob {
  std::string prompt, negative;
  std::int64_t size = 1024, steps = 30;
  std::int64_t jobs = 4;  ///< submitted at once, seeds 1…jobs, one image each, no cross-request batching
};

/// Runs `job.jobs` jobs on `model` (already loaded) in turn and overlapped; reports wall ms from
/// the first job's start to the last one's result, jobs per second, and the overlap count.
sdk::Result<nlohmann::json> bench_serve(const std::shared_ptr<pipeline::SdxlModel>& model,
                                        const plugins::PluginRegistry& registry, const ServeBenchJob& job);

}  // namespace sdxl::cli
