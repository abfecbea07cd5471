#pragma once
// The base → refiner handoff as diffusers' SDXL pipelines do it (denoising_end on the base,
// denoising_start on the refiner), and the refiner's micro-conditioning.
//
// Both fractions cut the *training* noise schedule: with T training timesteps,
//   cutoff = round(T − fraction · T)
//   base:    run the calls whose timestep ≥ cutoff
//   refiner: run the calls whose timestep < cutoff (for second-order samplers an even count is
//            made odd, so the refiner starts on a full step, as diffusers does)
// so a base run ending at f and a refiner run starting at f split one schedule without overlap.

#include <cstdint>

#include "models/unet/unet_config.h"
#include "sdxl/sdk/scheduler.h"
#include "sdxl/sdk/status.h"

namespace sdxl::pipeline {

/// round(T − fraction·T) (diffusers' discrete_timestep_cutoff).
std::int64_t discrete_timestep_cutoff(double fraction, std::int64_t train_timesteps);

/// After set_timesteps: how many calls the base runs for denoising_end `end` in (0, 1].
sdk::Result<std::int64_t> calls_until_denoising_end(const sdk::Scheduler& s, double end, std::int64_t train_timesteps);

/// After set_timesteps: skips the calls before denoising_start `start` in (0, 1); returns how many.
sdk::Result<std::int64_t> apply_denoising_start(sdk::Scheduler& s, double start, std::int64_t train_timesteps);

/// Time ids the UNet was trained with: (projection_class_embeddings_input_dim − pooled) / width.
/// 6 for SDXL base ([orig, crop, target]), 5 for the refiner ([orig, crop, aesthetic score]).
std::int64_t unet_time_id_count(const models::UNetConfig& unet, std::int64_t pooled_dim);

}  // namespace sdxl::pipeline
