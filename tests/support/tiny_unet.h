#pragma once
// A tiny UNet (the golden model's shape, bench/random_sdxl.h) with random weights, and random
// inputs for it: for the UNet tests that compare two ways of computing the same forward.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "bench/random_sdxl.h"
#include "models/unet/unet_model.h"

namespace sdxl::test_unet {

inline models::UNetConfig tiny_config() {
  auto c = models::UNetConfig::from_diffusers_json(bench::tiny_unet_config(), "tiny config");
  REQUIRE(c.ok());
  return *c;
}

/// Standard-normal weights × 0.1 drawn after manual_seed(seed), each passed to `adjust` (by
/// name) before the model is built, on the CPU in float32.
inline std::shared_ptr<models::UNet2DConditionModel> random_unet(
    const models::UNetConfig& c, std::uint64_t seed,
    const std::function<void(const std::string&, at::Tensor&)>& adjust = {}) {
  auto shapes = models::UNet2DConditionModel::parameter_shapes(c);
  REQUIRE(shapes.ok());
  at::manual_seed(seed);
  std::map<std::string, at::Tensor> w;
  for (const auto& [k, s] : *shapes) {
    w[k] = at::randn(s).mul_(0.1);
    if (adjust) adjust(k, w[k]);
  }
  auto unet = models::UNet2DConditionModel::load(w, c, "test", at::kFloat, at::kCPU);
  REQUIRE(unet.ok());
  return unet.value();
}

/// `rows` rows of a 16×16 latent with text conditioning, time ids and timestep 400.
inline models::UNetInputs random_inputs(const models::UNetConfig& c, std::int64_t rows) {
  at::manual_seed(5);
  models::UNetInputs in;
  in.sample = at::randn({rows, 4, 16, 16});
  in.timestep = at::full({rows}, 400.f);
  in.encoder_hidden_states = at::randn({rows, 77, c.cross_attention_dim});
  in.text_embeds = at::randn({rows, c.projection_class_embeddings_input_dim - 6 * c.addition_time_embed_dim});
  in.time_ids = at::rand({rows, 6}).mul_(100);
  return in;
}

}  // namespace sdxl::test_unet
