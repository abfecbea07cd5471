#pragma once
// The last stage of a job: final latents → pictures, with the VAE that choose_vae_for_decode
// picks for the memory left (untiled, tiled, or on the host). Separate from generate() so the
// server can run it for one job while the next job denoises (docs/server.md "Overlapped decode").

#include <ATen/core/Tensor.h>

#include "pipeline/sdxl_model.h"
#include "plugins/registry.h"

namespace sdxl::pipeline {

/// Decodes [B, C, h, w] latents (any device) to float32 pictures [B, 3, H, W] in about [-1, 1] on
/// the CPU. Adds the wall seconds spent to `*seconds` when given. Thread rules: may run on another
/// thread than the one denoising with the same model; it touches only the model's VAE.
sdk::Result<at::Tensor> decode_latents(SdxlModel& model, const plugins::PluginRegistry& registry,
                                       const at::Tensor& latents, double* seconds = nullptr);

}  // namespace sdxl::pipeline
