#include "pipeline/decode.h"

#include <ATen/ATen.h>

#include <chrono>

#include "pipeline/vae_choice.h"
#include "util/logging.h"

namespace sdxl::pipeline {

sdk::Result<at::Tensor> decode_latents(SdxlModel& model, const plugins::PluginRegistry& registry,
                                       const at::Tensor& latents, double* seconds) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto vae = choose_vae_for_decode(model, registry, latents.sizes());
  if (!vae.ok()) return vae.status();
  if (vae.value().owned) util::log_info(vae.value().reason);
  auto images = vae.value().vae->decode(latents.to(vae.value().device), nullptr);
  if (images.ok()) images = images.value().to(at::kFloat).cpu();
  if (seconds) *seconds += std::chrono::duration<double>(Clock::now() - start).count();
  return images;
}

}  // namespace sdxl::pipeline
