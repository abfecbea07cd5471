#pragma once
// The denoising loop with classifier-free guidance, as the diffusers SDXL pipelines run it:
//   for each remaining call:  x_in = scale_model_input(x);  eps = UNet(cat[x_in, x_in], t, cond)
//   eps = eps_uncond + g·(eps_text − eps_uncond)  [optionally rescaled, Lin et al. 2023 §3.4]
//   x = scheduler.step(eps, x)
// The UNet batch is [negative rows; positive rows] (unconditional first). With g ≤ 1 no
// unconditional rows are run (diffusers' do_classifier_free_guidance). Latents stay float32 (the
// scheduler's arithmetic); the UNet runs in its compute dtype.

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "models/unet/unet_model.h"
#include "pipeline/conditioning.h"
#include "pipeline/control_units.h"
#include "pipeline/unet_graph_cache.h"
#include "sdxl/sdk/scheduler.h"

namespace sdxl::pipeline {

/// Inpainting, as diffusers' SDXL inpaint pipeline: a 4-channel UNet denoises everything and
/// after each step the kept region is replaced by the clean latents noised to the next step's
/// level; a 9-channel inpaint UNet instead sees [latents, mask, masked-image latents] as input.
struct InpaintInputs {
  at::Tensor mask;                   ///< [B, 1, h, w] float, 1 = repaint, 0 = keep
  at::Tensor image_latents;          ///< [B, 4, h, w] clean latents of the init image
  at::Tensor noise;                  ///< the noise used to start (re-noises the kept region)
  at::Tensor masked_image_latents;   ///< [B, 4, h, w] latents of image·(1 − mask) (9-channel UNets)
};

/// Receives named intermediates ("step0.unet_eps"…, the golden cases' names).
using StepSink = std::function<void(const std::string& name, const at::Tensor& value)>;

struct DenoiseRequest {
  const models::UNet2DConditionModel* unet = nullptr;
  sdk::Scheduler* scheduler = nullptr;  ///< set_timesteps (and img2img truncation) already done
  sdk::NoiseSource* noise = nullptr;
  at::Tensor latents;                   ///< [B, 4, h, w] float32, the starting sample
  const Conditioning* cond = nullptr;
  at::Tensor time_ids;                  ///< [6] or [B, 6]: orig h, w, crop top, left, target h, w
  at::Tensor negative_time_ids;         ///< same shape; undefined = time_ids
  double guidance = 5.0;
  /// Per-row CFG scales (cross-request batches, one per latent row); empty: `guidance` for all.
  /// CFG runs for the whole batch when any scale is > 1; each row is guided with its own scale
  /// (and rescaled on its own), exactly as it would be alone.
  std::vector<double> guidance_per_image;
  double guidance_rescale = 0.0;
  std::function<void(std::int64_t done, std::int64_t total)> progress;
  std::function<bool()> cancelled;      ///< checked between steps
  const StepSink* sink = nullptr;
  const InpaintInputs* inpaint = nullptr;  ///< optional
  double* unet_seconds = nullptr;          ///< optional: accumulates host time inside UNet calls (on a GPU: the launches)
  /// Optional: UNet calls go through it (replayed from a CUDA graph where it allows; eager otherwise).
  UNetGraphCache* unet_graphs = nullptr;
  /// Optional ControlNet units (pipeline/control_units.h): called before every UNet call with the
  /// UNet's own inputs; the summed residuals of the active units go into that call.
  ControlStepFn control;
  double* control_seconds = nullptr;       ///< optional: accumulates wall time inside ControlNet calls
  std::int64_t max_calls = -1;             ///< ≥ 0: stop after this many calls (denoising_end)
  /// Optional: every `preview_every` calls, the step's clean-sample estimate (samplers that have
  /// none preview the current sample).
  std::int64_t preview_every = 0;
  std::function<void(std::int64_t call, const at::Tensor& denoised)> preview;
};

/// Runs the loop with the latents on the UNet's device; returns the final latents, float32, on
/// the CPU. The sink and preview see tensors on the UNet's device.
sdk::Result<at::Tensor> denoise(const DenoiseRequest& req);

}  // namespace sdxl::pipeline
