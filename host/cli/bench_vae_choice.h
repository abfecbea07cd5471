#pragma once
// `sdxl bench`'s "auto" VAE figure: the decode a job would run, chosen by the pipeline itself
// (pipeline/vae_choice.h) under this run's memory budget and [memory] vae_decode cap, with its
// time and, on CUDA, the caching allocator's peak (issue 8: ≤ 2 GiB at 1024², tiling chosen
// automatically).

#include <cstdint>
#include <map>
#include <string>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "plugins/registry.h"
#include "sdxl/sdk/status.h"

namespace sdxl::cli {

/// Loads a kl VAE from `weights` (CPU tensors, as a checkpoint's are mapped) with the options a
/// job's VAE gets (none: force_upcast auto), lets the decode choice pick untiled, tiled or the
/// host for `latents`, and decodes `iters` times after one warm-up. Reports the choice's reason,
/// its device, ms per decode, its estimate and (CUDA builds with the allocator's statistics, on
/// CUDA) the allocator's peak during the timed decodes with the MiB already held before them.
sdk::Result<nlohmann::json> bench_vae_choice(const plugins::PluginRegistry& registry, c10::Device device,
                                             c10::ScalarType dtype, const std::map<std::string, at::Tensor>& weights,
                                             const std::string& config_json, const at::Tensor& latents,
                                             std::int64_t iters);

}  // namespace sdxl::cli
