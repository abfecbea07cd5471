#pragma once
// Full-size SDXL networks with random weights for the benchmarks (no download): the base UNet's
// diffusers config, the AutoencoderKL config, and weights drawn so activations stay finite
// (matrices ~ N(0, 1/fan_in), norm scales 1, biases 0). Header-only: the CPU benchmarks (linked
// with sdxl_host) and the minimal GPU build (bench/gpu) both include it.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace sdxl::bench {

inline nlohmann::json sdxl_base_unet_config() {
  return {{"block_out_channels", {320, 640, 1280}}, {"layers_per_block", 2},
          {"transformer_layers_per_block", {1, 2, 10}}, {"attention_head_dim", {5, 10, 20}},
          {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}},
          {"up_block_types", {"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"}},
          {"cross_attention_dim", 2048}, {"addition_time_embed_dim", 256},
          {"projection_class_embeddings_input_dim", 2816}, {"in_channels", 4}, {"out_channels", 4}};
}

/// The golden tiny model's UNet shape (quick runs on the CPU).
inline nlohmann::json tiny_unet_config() {
  return {{"block_out_channels", {32, 64, 64}}, {"layers_per_block", 2},
          {"transformer_layers_per_block", {1, 1, 2}}, {"attention_head_dim", {2, 2, 4}},
          {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}},
          {"up_block_types", {"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"}},
          {"cross_attention_dim", 64}, {"addition_time_embed_dim", 8},
          {"projection_class_embeddings_input_dim", 80}, {"in_channels", 4}, {"out_channels", 4}};
}

inline nlohmann::json sdxl_vae_config() {
  return {{"block_out_channels", {128, 256, 512, 512}}, {"layers_per_block", 2}, {"latent_channels", 4},
          {"norm_num_groups", 32}, {"scaling_factor", 0.13025}, {"force_upcast", false},
          {"in_channels", 3}, {"out_channels", 3}};
}

/// One random tensor for parameter `name` (drawn in float32 on `o`'s device, then converted).
inline at::Tensor random_parameter(const std::string& name, const std::vector<std::int64_t>& shape,
                                   const at::TensorOptions& o) {
  const bool is_norm = name.find("norm") != std::string::npos;
  if (shape.size() == 1) return is_norm && name.find(".weight") != std::string::npos ? at::ones(shape, o) : at::zeros(shape, o);
  std::int64_t fan_in = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
  // Drawn on the target device: the full UNet's 2.6 B values took 15-18 s per benchmark process
  // when drawn on the CPU (the GPU machine, 2026-11-27: a quarter of the GPU call went on it); a
  // CUDA generator draws them in well under a second. Float first, then the dtype, as before.
  return at::randn(shape, o.dtype(at::kFloat)).mul_(1.0 / std::sqrt(double(fan_in))).to(o);
}

/// `shapes`: any range of (name, shape) pairs (a map or a list).
template <class Shapes>
std::map<std::string, at::Tensor> random_weights(const Shapes& shapes, const at::TensorOptions& o) {
  std::map<std::string, at::Tensor> w;
  for (const auto& [name, shape] : shapes) w[name] = random_parameter(name, shape, o);
  return w;
}

}  // namespace sdxl::bench
