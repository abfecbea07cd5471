#pragma once
// Base → refiner in one job, as diffusers' "ensemble of expert denoisers": the base model runs the
// high-noise part of the schedule (denoising_end = switch_at) and hands its latents to the refiner,
// which runs the rest (denoising_start = switch_at) with its own text encoder (text_encoder_2 only),
// its aesthetic-score micro-conditioning, and decodes with its own VAE.

#include "pipeline/generate.h"

namespace sdxl::pipeline {

struct RefinerSettings {
  SdxlModel* model = nullptr;  ///< null: no refiner
  double switch_at = 0.8;      ///< fraction of the noise schedule the base covers (0, 1)
  std::string sampler;         ///< empty: the refiner's own scheduler config (or the request's sampler)
};

/// Runs `req` on the base, then on the refiner. Without a refiner, the same as generate().
sdk::Result<GenerateResult> generate_with_refiner(SdxlModel& base, const RefinerSettings& refiner,
                                                  const plugins::PluginRegistry& registry, const GenerateRequest& req,
                                                  const JobHooks& hooks);

}  // namespace sdxl::pipeline
