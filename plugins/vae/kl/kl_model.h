#pragma once
// AutoencoderKL networks bound to their weights: the encoder (picture -> moments) and the decoder
// (unscaled latent -> picture). No scaling factor, tiling or batching here: see kl_vae.h.

#include <ATen/ATen.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kl_config.h"
#include "kl_layers.h"
#include "sdxl/sdk/status.h"

namespace sdxl::vae_kl {

struct Encoder {
  Conv conv_in;
  std::vector<DownBlock> down_blocks;
  MidBlock mid_block;
  Norm conv_norm_out;
  Conv conv_out;
  std::optional<Conv> quant_conv;
};

struct Decoder {
  std::optional<Conv> post_quant_conv;
  Conv conv_in;
  MidBlock mid_block;
  std::vector<UpBlock> up_blocks;
  Norm conv_norm_out;
  Conv conv_out;
};

/// How the networks compute (never what): the kl plugin's options of the same names.
struct KlComputeOptions {
  /// Convolution weights and activations in NHWC memory layout (the layout tensor-core
  /// convolution kernels read natively).
  bool channels_last = false;
  /// The decoder's nearest ×2 + 3×3 upsamplers as four 2×2 phase convolutions (SubpixelUpsample).
  bool subpixel_upsample = true;
  /// The host's faster operations (HostServices::ops); null: libtorch only.
  const sdk::DeviceOps* ops = nullptr;
};

class KlModel {
 public:
  /// Binds every tensor the config calls for, checking its shape, and converts them to
  /// `dtype` on `device`. Errors name `source`, the tensor and both shapes. The encoder is
  /// optional (decoder-only files exist); encode() then fails with `unsupported`.
  static sdk::Result<KlModel> bind(const KlConfig& config, const std::map<std::string, at::Tensor>& weights,
                                   const std::string& source, c10::Device device, c10::ScalarType dtype,
                                   const KlComputeOptions& compute = {});

  const KlConfig& config() const { return config_; }
  bool has_encoder() const { return encoder_.has_value(); }
  c10::ScalarType dtype() const { return dtype_; }
  c10::Device device() const { return device_; }

  /// x: [N, in_channels, H, W] in [-1, 1], H and W multiples of downscale()
  /// -> moments [N, 2*latent_channels, H/f, W/f] (quant_conv applied; mean then logvar).
  at::Tensor encode_moments(const at::Tensor& x) const;
  /// z: [N, latent_channels, h, w] (already divided by the scaling factor) -> [N, out_channels, h*f, w*f]
  at::Tensor decode(const at::Tensor& z) const;

  /// Score-matrix chunk bound of the mid-block attention, in elements per sample.
  std::int64_t max_score_elements = std::int64_t{1} << 26;  // 256 MiB in float32

 private:
  KlConfig config_;
  NormSettings norm_;
  std::optional<Encoder> encoder_;
  Decoder decoder_;
  c10::Device device_ = c10::Device(c10::kCPU);
  c10::ScalarType dtype_ = c10::kFloat;
  KlComputeOptions compute_;
};

}  // namespace sdxl::vae_kl
