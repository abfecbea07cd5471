#include "pipeline/refiner.h"

#include <ATen/ATen.h>

namespace sdxl::pipeline {

sdk::Result<GenerateResult> generate_with_refiner(SdxlModel& base, const RefinerSettings& refiner,
                                                  const plugins::PluginRegistry& registry, const GenerateRequest& req,
                                                  const JobHooks& hooks) {
  if (!refiner.model) return generate(base, registry, req, hooks);
  if (!(refiner.switch_at > 0 && refiner.switch_at < 1))
    return sdk::invalid_argument("refiner switch must be in (0, 1) (got " + std::to_string(refiner.switch_at) + ")");
  if (req.mask.defined()) return sdk::invalid_argument("inpainting with a refiner is not supported yet");
  if (req.denoising_end < 1 || req.denoising_start > 0)
    return sdk::invalid_argument("denoising_end/denoising_start are set by the refiner switch");

  GenerateRequest first = req;
  first.denoising_end = refiner.switch_at;
  first.decode = false;
  auto base_result = generate(base, registry, first, hooks);
  if (!base_result.ok()) return base_result.status();

  GenerateRequest second = req;
  second.denoising_start = refiner.switch_at;
  second.init_latents = base_result.value().latents;
  second.init_image = at::Tensor();
  second.initial_noise = at::Tensor();
  second.controls.clear();  // ControlNets guide the base's structure; the refiner only details
  if (!refiner.sampler.empty()) second.sampler = refiner.sampler;
  auto refined = generate(*refiner.model, registry, second, hooks);
  if (!refined.ok()) return refined.status();

  GenerateResult out = std::move(refined).value();
  const auto& b = base_result.value();
  out.sampler = b.sampler == out.sampler ? out.sampler : b.sampler + " + " + out.sampler;
  out.seconds.text += b.seconds.text;
  out.seconds.denoise += b.seconds.denoise;
  out.seconds.unet += b.seconds.unet;
  out.seconds.vae += b.seconds.vae;
  out.seconds.controlnet += b.seconds.controlnet;
  return out;
}

}  // namespace sdxl::pipeline
