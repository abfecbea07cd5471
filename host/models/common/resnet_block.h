#pragma once
// ResnetBlock2D (diffusers names): norm1 -> SiLU -> conv1 [-> + time_emb_proj(SiLU(temb))]
// -> norm2 -> SiLU -> conv2, plus the input (through the 1x1 conv_shortcut when channels change).
// Used by the UNet (eps 1e-5, with a time embedding) and the VAE (eps 1e-6, without).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "models/common/layers.h"

namespace sdxl::models {

struct ResnetBlock2D {
  GroupNorm norm1, norm2;
  Conv2d conv1, conv2;
  Linear time_emb_proj;  // undefined weight when temb_channels == 0
  Conv2d conv_shortcut;  // undefined weight when in == out

  /// temb_channels 0: no time embedding input (VAE).
  void load(WeightReader& r, const std::string& prefix, std::int64_t in, std::int64_t out, std::int64_t temb_channels,
            std::int64_t groups, double eps);
  /// x: [N, in, H, W], temb: [N, temb_channels] or undefined -> [N, out, H, W]
  at::Tensor operator()(const at::Tensor& x, const at::Tensor& temb) const;
};

}  // namespace sdxl::models
