#pragma once
// The few functional building blocks AutoencoderKL is made of, as plain structs of tensors plus
// free forward functions (ATen only; no torch::nn). Names mirror diffusers' module names so a
// reader can hold this next to the checkpoint's key list.
//
// Memory discipline: these run at full image resolution (1024² × 128..512 channels = 0.5–2 GiB per
// tensor in float32), so every function drops intermediates as early as possible and applies
// activations in place. estimate_decode_bytes() (kl_memory.cpp) models exactly this live set.

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "sdxl/sdk/device_ops.h"

namespace sdxl::vae_kl {

/// Conv2d weight [Cout, Cin, k, k] and bias [Cout] (bias may be undefined).
struct Conv {
  at::Tensor weight;
  at::Tensor bias;
  std::int64_t stride = 1;
  std::int64_t padding = 0;
};

/// GroupNorm affine parameters [C]; eps is 1e-6 everywhere in the KL VAE.
struct Norm {
  at::Tensor weight;
  at::Tensor bias;
};

/// diffusers ResnetBlock2D without time embedding.
struct Resnet {
  Norm norm1;
  Conv conv1;
  Norm norm2;
  Conv conv2;
  std::optional<Conv> conv_shortcut;  ///< 1x1, only where in/out channels differ
};

/// Single-head self-attention over all C channels (the VAE's mid-block Attention).
/// Projections are Linear weights [C, C] (1x1 conv weights are reshaped at load time).
struct Attention {
  Norm group_norm;
  at::Tensor q_w, q_b, k_w, k_b, v_w, v_b, out_w, out_b;
};

struct MidBlock {
  Resnet resnet0;
  std::optional<Attention> attention;
  Resnet resnet1;
};

struct DownBlock {
  std::vector<Resnet> resnets;
  std::optional<Conv> downsample;  ///< asymmetric pad (0,1,0,1) + conv3x3 stride 2
};

/// nearest ×2 followed by a 3×3 convolution, rewritten as four 2×2 convolutions of the
/// low-resolution input, one per output phase (dy, dx) ∈ {0,1}²: output pixel (2i+dy, 2j+dx)
/// sees input rows {i-1, i} (dy = 0) or {i, i+1} (dy = 1), and the 3×3 taps that land on the
/// same input row are added (dy = 0: [w0, w1+w2]; dy = 1: [w0+w1, w2]; columns alike). The
/// same sums as the upsampled convolution, with 16/36 of its multiply-adds and without its 4×
/// upsampled copy of the input.
struct SubpixelUpsample {
  at::Tensor phase_weights[2][2];  ///< [dy][dx]: [Cout, Cin, 2, 2]
  at::Tensor bias;
};

/// The phase kernels of a nearest ×2 + 3×3 `conv` (added in float32, stored in its dtype).
SubpixelUpsample subpixel_upsample(const Conv& c);

struct UpBlock {
  std::vector<Resnet> resnets;
  std::optional<Conv> upsample;  ///< nearest x2 + conv3x3
  std::optional<SubpixelUpsample> subpixel;  ///< the same, as phase convolutions (when chosen)
};

struct NormSettings {
  std::int64_t groups = 32;
  double eps = 1e-6;
  /// The host's faster GroupNorm (+ SiLU), used where it has one (channels-last on CUDA).
  const sdk::DeviceOps* ops = nullptr;
};

at::Tensor conv(const at::Tensor& x, const Conv& c);
/// GroupNorm followed by in-place SiLU. x: [N, C, H, W]
at::Tensor norm_silu(const at::Tensor& x, const Norm& n, const NormSettings& s);
/// x: [N, Cin, H, W] -> [N, Cout, H, W]. Takes x by value: a caller that moves its reference in
/// lets the input's memory go before conv1 where the block has a shortcut convolution.
at::Tensor resnet(at::Tensor x, const Resnet& r, const NormSettings& s);
/// x: [N, C, H, W] -> same. Queries are processed in chunks so the [HW, HW] score matrix never
/// exceeds `max_score_elements` per sample (exact: softmax is per query row).
at::Tensor attention(const at::Tensor& x, const Attention& a, const NormSettings& s,
                     std::int64_t max_score_elements);
/// x: [N, C, H, W] -> [N, C, H/2, W/2] (zero pad right/bottom by 1, conv stride 2, no padding)
at::Tensor downsample(const at::Tensor& x, const Conv& c);
/// x: [N, C, H, W] -> [N, Cout, 2H, 2W] through the phase convolutions (SubpixelUpsample).
at::Tensor upsample(const at::Tensor& x, const SubpixelUpsample& u);
/// x: [N, C, H, W] -> [N, C, 2H, 2W]
at::Tensor upsample(const at::Tensor& x, const Conv& c);
at::Tensor mid_block(const at::Tensor& x, const MidBlock& m, const NormSettings& s,
                     std::int64_t max_score_elements);

}  // namespace sdxl::vae_kl
