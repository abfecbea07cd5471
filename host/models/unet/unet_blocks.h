#pragma once
// The UNet's level blocks, named as diffusers names them:
//   down_blocks.{l}: resnets.{j}, attentions.{j} (CrossAttnDownBlock2D only), downsamplers.0.conv
//   mid_block:       resnets.0, attentions.0, resnets.1 (SSD-1B: resnets.0 only; or none)
//   up_blocks.{u}:   resnets.{j} (L+1 of them, each eating one skip tensor), attentions.{j}, upsamplers.0.conv

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/common/resnet_block.h"
#include "models/unet/transformer2d.h"
#include "models/unet/unet_config.h"

namespace sdxl::models {

struct DownBlock {
  std::vector<ResnetBlock2D> resnets;
  std::vector<Transformer2DModel> attentions;  // empty for DownBlock2D
  Conv2d downsampler;                           // undefined in the last level
  void load(WeightReader& r, const UNetConfig& c, std::int64_t level);
  /// x: [B, Cin, H, W] -> output; appends each skip tensor (resnet outputs, then the downsampled) to `skips`.
  at::Tensor operator()(at::Tensor x, const at::Tensor& temb, const AttentionContext& context,
                        std::vector<at::Tensor>* skips) const;
};

struct MidBlock {
  bool present = true;          // false: diffusers' mid_block_type null (identity)
  bool cross_attention = true;  // false: UNetMidBlock2D, a single resnet (SSD-1B)
  ResnetBlock2D resnet0, resnet1;
  Transformer2DModel attention;
  void load(WeightReader& r, const UNetConfig& c);
  at::Tensor operator()(const at::Tensor& x, const at::Tensor& temb, const AttentionContext& context) const;
};

struct UpBlock {
  std::vector<ResnetBlock2D> resnets;
  std::vector<Transformer2DModel> attentions;  // empty for UpBlock2D
  Conv2d upsampler;                             // undefined in the last up level
  void load(WeightReader& r, const UNetConfig& c, std::int64_t up_level);
  /// Pops its L+1 skip tensors from the back of `skips`; the upsampler (if any) resizes to the
  /// spatial size of the next skip tensor left in `skips`.
  at::Tensor operator()(at::Tensor x, const at::Tensor& temb, const AttentionContext& context,
                        std::vector<at::Tensor>* skips) const;
};

/// Calls fn on every Transformer2DModel of `down_blocks` and `mid_block` (const or not), in
/// forward order: the transformers a UNet and a ControlNet both have.
template <class DownBlocks, class Mid, class Fn>
void for_each_down_mid_transformer(DownBlocks& down_blocks, Mid& mid_block, Fn&& fn) {
  for (auto& block : down_blocks)
    for (auto& t : block.attentions) fn(t);
  if (mid_block.present && mid_block.cross_attention) fn(mid_block.attention);
}

}  // namespace sdxl::models
