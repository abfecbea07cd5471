#include "pipeline/preview.h"

#include <ATen/ATen.h>

#include "pipeline/generate.h"

namespace sdxl::pipeline {

at::Tensor latent_rgb_preview(const at::Tensor& latents) {
  // rgb = Σ_c latent_c · F[c] + bias (SDXL factors as published by ComfyUI's latent formats).
  static const float factors[4][3] = {
      {0.3651f, 0.4232f, 0.4341f}, {-0.2533f, -0.0042f, 0.1068f}, {0.1076f, 0.1111f, -0.0362f}, {-0.3165f, -0.2492f, -0.2188f}};
  static const float bias[3] = {0.1084f, -0.0175f, -0.0011f};
  at::Tensor f = at::from_blob(const_cast<float*>(&factors[0][0]), {4, 3}, at::kFloat).clone();
  at::Tensor b = at::from_blob(const_cast<float*>(bias), {3}, at::kFloat).clone();
  at::Tensor x = latents.to(at::kFloat).cpu().permute({0, 2, 3, 1});  // [B, h, w, 4]
  at::Tensor rgb = at::matmul(x, f) + b;                                // [B, h, w, 3] in about [-1, 1]
  return ((rgb + 1) / 2).clamp(0, 1).mul(255).round().to(at::kByte).contiguous();
}

at::Tensor make_preview(const at::Tensor& denoised, sdk::VaeVariant* decoder) {
  if (decoder) {
    auto images = decoder->decode(denoised, nullptr);
    if (images.ok()) return to_uint8_images(images.value()).cpu();  // the decoder's device may be a GPU
  }
  return latent_rgb_preview(denoised);
}

}  // namespace sdxl::pipeline
