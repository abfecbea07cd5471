#pragma once
// Random UNet inputs of one 64x64 picture for a given UNet structure (the memory tests run the
// demo model's UNet before and after moving its weights and compare).
#include <ATen/ATen.h>

#include "models/unet/unet_model.h"

namespace memory_test {

inline sdxl::models::UNetInputs unet_inputs(const sdxl::models::UNetConfig& c, std::uint64_t seed, double timestep) {
  at::manual_seed(seed);
  sdxl::models::UNetInputs in;
  in.sample = at::randn({1, c.in_channels, 8, 8});
  in.timestep = at::full({1}, timestep);
  in.encoder_hidden_states = at::randn({1, 77, c.cross_attention_dim});
  const std::int64_t n_ids = 6;
  in.text_embeds = at::randn({1, c.projection_class_embeddings_input_dim - n_ids * c.addition_time_embed_dim});
  in.time_ids = at::tensor({64.0, 64.0, 0.0, 0.0, 64.0, 64.0}).reshape({1, n_ids});
  return in;
}

}  // namespace memory_test
