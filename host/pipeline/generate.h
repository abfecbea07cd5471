#pragma once
// One generation job on a loaded model: txt2img; img2img when an init image is given (strength
// truncates the schedule exactly as diffusers' SDXL img2img pipeline); inpaint when a mask is
// given too (diffusers' SDXL inpaint pipeline: strength 1 starts from pure noise; a 4-channel
// UNet's kept region is re-imposed after every step, a 9-channel inpaint UNet gets the mask and
// masked-image latents as extra input channels). Returns the final latents and decoded images.
//
// Noise: everything random (initial noise, the VAE posterior sample, ancestral sampler draws)
// comes from one NoiseSource, in diffusers' order: encode sample, then initial noise, then the
// scheduler's draws.

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "pipeline/conditioning.h"
#include "pipeline/denoiser.h"
#include "pipeline/sdxl_model.h"
#include "plugins/registry.h"
#include "schedulers/auto_sampler.h"

namespace sdxl::pipeline {

struct GenerateRequest {
  PromptInput prompts;  ///< one prompt per image of the batch
  std::int64_t width = 1024, height = 1024;
  std::int64_t steps = 30;
  double guidance = 5.0;
  /// Per-image CFG scales (cross-request batches); empty: `guidance` for every image.
  std::vector<double> guidance_per_image;
  double guidance_rescale = 0.0;
  std::string sampler;  ///< scheduler feature or alias; empty: the model's own scheduler config; "auto"
  schedulers::AutoHints auto_hints;  ///< for sampler "auto": active LoRAs and the model's name
  at::Tensor init_image;  ///< img2img: [B or 1, 3, H, W] float in [-1, 1]; undefined: txt2img
  double strength = 0.8;
  at::Tensor mask;  ///< inpaint: [1 or B, 1, H, W] float in [0, 1], white (≥ 0.5) = repaint; needs init_image
  /// SDXL micro-conditioning, each (height, width) or (top, left); empty = defaults (H,W), (0,0), (H,W).
  std::vector<double> original_size, crop_top_left, target_size;
  /// The same for the negative rows (diffusers' negative_original_size…); empty = the positive ones.
  std::vector<double> negative_original_size, negative_crop_top_left, negative_target_size;
  at::Tensor initial_noise;  ///< optional explicit noise [B,4,h,w] (golden replays)
  /// Base → refiner handoff, diffusers' denoising_end / denoising_start (fractions of the training
  /// noise schedule, not of the steps). denoising_end < 1: only the calls whose timestep is
  /// ≥ round(T − end·T) run. denoising_start > 0: the run starts from `init_latents` (no noise
  /// added, no VAE encode) at the calls whose timestep is < round(T − start·T).
  double denoising_end = 1.0;
  double denoising_start = 0.0;
  at::Tensor init_latents;  ///< [B or 1, 4, h, w] float32: the base's latents (with denoising_start)
  /// UNets trained with 5 time ids (the refiner) get [orig h, w, crop top, left, aesthetic score]
  /// instead of the target size (diffusers' requires_aesthetics_score; defaults as diffusers).
  double aesthetic_score = 6.0, negative_aesthetic_score = 2.5;
  bool decode = true;  ///< false: latents only (GenerateResult::images undefined)
  /// ControlNet units, resolved (pipeline/control_units.h): each picture [1,3,H,W] at this size.
  std::vector<ControlUnit> controls;
};

struct GenerateResult {
  at::Tensor latents;        ///< [B, 4, h, w] float32, final
  at::Tensor images;         ///< [B, 3, H, W] float32 in about [-1, 1]
  std::string sampler;       ///< the scheduler feature that ran
  /// Wall seconds per phase (text encoding, the whole denoising loop, the UNet calls inside it,
  /// VAE encode + decode); loop minus UNet is the pipeline's own per-step overhead.
  struct Times {
    double text = 0, denoise = 0, unet = 0, vae = 0;
    double controlnet = 0;  ///< inside ControlNet calls (part of denoise, not of unet)
  } seconds;
};

struct JobHooks {
  sdk::NoiseSource* noise = nullptr;  ///< required
  const StepSink* sink = nullptr;
  std::function<void(std::int64_t, std::int64_t)> progress;
  std::function<bool()> cancelled;
  std::int64_t preview_every = 0;  ///< 0: no previews
  std::function<void(std::int64_t call, const at::Tensor& pictures)> preview;  ///< uint8 [B,H,W,3]
  sdk::VaeVariant* preview_decoder = nullptr;  ///< e.g. TAESD; null: linear latent→RGB
};

/// Checks a request's numbers before anything heavy happens.
sdk::Status validate_request(const GenerateRequest& req);

sdk::Result<GenerateResult> generate(SdxlModel& model, const plugins::PluginRegistry& registry,
                                     const GenerateRequest& req, const JobHooks& hooks);

/// [B,3,H,W] float [-1,1] → uint8 [B,H,W,3] (diffusers' postprocess: clamp, ×255, round).
at::Tensor to_uint8_images(const at::Tensor& images);
/// uint8 [H,W,3] → float [1,3,H,W] in [-1,1].
at::Tensor from_uint8_image(const at::Tensor& pixels);

}  // namespace sdxl::pipeline
