#pragma once
// Previews of a running job: the sampler's current clean-sample estimate turned into a small
// RGB picture, either by a fast VAE variant (TAESD) when one is configured, or by SDXL's linear
// latent→RGB approximation (a fixed 4×3 matrix plus bias, the factors ComfyUI publishes for
// SDXL latents), which costs nothing and needs no weights.

#include <ATen/core/Tensor.h>

#include <functional>

#include "sdxl/sdk/vae_variant.h"

namespace sdxl::pipeline {

/// latents [B, 4, h, w] (UNet space) → uint8 [B, h, w, 3] by the linear approximation.
at::Tensor latent_rgb_preview(const at::Tensor& latents);

/// Called every N steps with (call index, preview pictures uint8 [B, H, W, 3]).
using PreviewSink = std::function<void(std::int64_t call, const at::Tensor& pictures)>;

/// Previews through `decoder` (TAESD) when given, else the linear approximation.
at::Tensor make_preview(const at::Tensor& denoised, sdk::VaeVariant* decoder);

}  // namespace sdxl::pipeline
