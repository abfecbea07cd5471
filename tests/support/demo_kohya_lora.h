#pragma once
// A kohya-format LoRA of rank 4 for the demo model, written for tests: one UNet attention
// projection and, optionally, text encoder 1's first query projection. Factors are drawn from
// `seed` in a fixed order (UNet down, UNet up, then the text encoder's down and up), so a test
// can recompute the merged weight from the returned UNet factors.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"

namespace sdxl::test_support {

/// The modules the LoRA patches, as diffusers names them (append ".weight" for the parameter).
inline const std::string kDemoLoraUnetModule = "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q";
inline const std::string kDemoLoraTextModule = "text_model.encoder.layers.0.self_attn.q_proj";

struct DemoLoraSpec {
  std::uint64_t seed = 0;
  double scale = 0.1;       ///< factors are N(0, 1) · scale
  double unet_alpha = 2.0;  ///< kohya alpha (the LoRA's strength is alpha / rank)
  bool text_encoder = false;
  double text_alpha = 4.0;
};

struct DemoLora {
  at::Tensor unet_down, unet_up;  ///< [4, 64] and [64, 4], as written
};

inline DemoLora write_demo_kohya_lora(const std::filesystem::path& file, const DemoLoraSpec& spec) {
  at::manual_seed(spec.seed);
  const std::string unet = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q";
  const std::string te = "lora_te1_text_model_encoder_layers_0_self_attn_q_proj";
  DemoLora lora;
  lora.unet_down = at::randn({4, 64}) * spec.scale;
  lora.unet_up = at::randn({64, 4}) * spec.scale;
  std::vector<std::pair<std::string, at::Tensor>> t = {{unet + ".lora_down.weight", lora.unet_down},
                                                       {unet + ".lora_up.weight", lora.unet_up},
                                                       {unet + ".alpha", at::full({}, spec.unet_alpha)}};
  if (spec.text_encoder) {
    t.emplace_back(te + ".lora_down.weight", at::randn({4, 32}) * spec.scale);
    t.emplace_back(te + ".lora_up.weight", at::randn({32, 4}) * spec.scale);
    t.emplace_back(te + ".alpha", at::full({}, spec.text_alpha));
  }
  std::filesystem::create_directories(file.parent_path());
  REQUIRE(io::write_safetensors(file, t, {{"ss_network_module", "networks.lora"}}).ok());
  return lora;
}

}  // namespace sdxl::test_support
