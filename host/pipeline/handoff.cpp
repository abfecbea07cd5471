#include "pipeline/handoff.h"

#include <ATen/ATen.h>

#include <cmath>

namespace sdxl::pipeline {

std::int64_t discrete_timestep_cutoff(double fraction, std::int64_t train_timesteps) {
  const double t = static_cast<double>(train_timesteps);
  // Python's round() is half-to-even; nearbyint in the default rounding mode is the same.
  return static_cast<std::int64_t>(std::nearbyint(t - fraction * t));
}

sdk::Result<std::int64_t> calls_until_denoising_end(const sdk::Scheduler& s, double end, std::int64_t train_timesteps) {
  if (!(end > 0.0 && end <= 1.0)) return sdk::invalid_argument("denoising_end must be in (0, 1]");
  const at::Tensor ts = s.timesteps().to(at::kDouble);
  if (end >= 1.0) return ts.size(0);
  const auto cutoff = static_cast<double>(discrete_timestep_cutoff(end, train_timesteps));
  const std::int64_t n = (ts >= cutoff).sum().item<std::int64_t>();
  if (n == 0) return sdk::invalid_argument("denoising_end " + std::to_string(end) + " leaves no step to run");
  return n;
}

sdk::Result<std::int64_t> apply_denoising_start(sdk::Scheduler& s, double start, std::int64_t train_timesteps) {
  if (!(start > 0.0 && start < 1.0)) return sdk::invalid_argument("denoising_start must be in (0, 1)");
  const at::Tensor ts = s.timesteps().to(at::kDouble);
  const auto cutoff = static_cast<double>(discrete_timestep_cutoff(start, train_timesteps));
  std::int64_t n = (ts < cutoff).sum().item<std::int64_t>();
  if (s.order() == 2 && n % 2 == 0 && n < ts.size(0)) n += 1;  // start on a full second-order step
  if (n == 0) return sdk::invalid_argument("denoising_start " + std::to_string(start) + " leaves no step to run");
  const std::int64_t skip = ts.size(0) - n;
  if (skip > 0)
    if (auto st = s.skip_calls(skip); !st.ok()) return st;
  return skip;
}

std::int64_t unet_time_id_count(const models::UNetConfig& unet, std::int64_t pooled_dim) {
  if (unet.addition_time_embed_dim <= 0) return 6;
  return (unet.projection_class_embeddings_input_dim - pooled_dim) / unet.addition_time_embed_dim;
}

}  // namespace sdxl::pipeline
