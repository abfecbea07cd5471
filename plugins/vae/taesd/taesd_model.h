#pragma once
// TAESD / TAESD-XL (diffusers AutoencoderTiny): a tiny all-convolutional autoencoder, no
// normalisation, ReLU everywhere. Layer indices follow diffusers' two nn.Sequential stacks
// (`encoder.layers.{n}`, `decoder.layers.{n}`), counting the parameter-free layers (ReLU,
// Upsample) too, so the tensor names are computed from the block counts below.
//
// Encoder: conv(3->C) ; for each level i: [i>0: conv3x3 stride 2 no bias] + blocks_i x Block ;
//          conv(C->latent). Input mapped [-1,1] -> [0,1] first.
// Decoder: tanh(z/3)*3 ; conv(latent->C), ReLU ; for each level i: blocks_i x Block,
//          [not last: Upsample x2 (nearest), conv3x3 no bias] ; last: conv(C->3) with bias.
//          Output mapped [0,1] -> [-1,1].
// Block:   relu(conv(relu(conv(relu(conv(x))))) + skip(x)), skip = bias-free 1x1 conv or identity.

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::vae_taesd {

struct TaesdConfig {
  std::int64_t in_channels = 3;
  std::int64_t out_channels = 3;
  std::int64_t latent_channels = 4;
  std::vector<std::int64_t> encoder_channels{64, 64, 64, 64};
  std::vector<std::int64_t> decoder_channels{64, 64, 64, 64};
  std::vector<std::int64_t> encoder_blocks{1, 3, 3, 3};
  std::vector<std::int64_t> decoder_blocks{3, 3, 3, 1};
  double scaling_factor = 1.0;
  double shift_factor = 0.0;
  std::int64_t downscale() const { return std::int64_t{1} << (encoder_blocks.size() - 1); }
};

/// diffusers AutoencoderTiny config.json; missing keys keep TAESD-XL's values.
sdk::Result<TaesdConfig> parse_taesd_config(const std::string& json_text, const std::string& source);

struct Conv {
  at::Tensor weight;
  at::Tensor bias;  ///< undefined for bias-free convs
  std::int64_t stride = 1;
  std::int64_t padding = 1;
};

struct Block {
  Conv conv0, conv2, conv4;
  std::optional<Conv> skip;
};

/// One entry of a Sequential stack.
struct Layer {
  enum Kind { conv, block, relu, upsample } kind = conv;
  Conv c;
  Block b;
};

class TaesdModel {
 public:
  static sdk::Result<TaesdModel> bind(const TaesdConfig& config, const std::map<std::string, at::Tensor>& weights,
                                      const std::string& source, c10::Device device, c10::ScalarType dtype);
  const TaesdConfig& config() const { return config_; }
  bool has_encoder() const { return !encoder_.empty(); }
  c10::Device device() const { return device_; }
  c10::ScalarType dtype() const { return dtype_; }

  /// x: [N, 3, H, W] in [-1, 1] -> latents [N, latent, H/8, W/8] (UNet space for TAESD-XL)
  at::Tensor encode(const at::Tensor& x) const;
  /// z: [N, latent, h, w] -> [N, 3, 8h, 8w] in [-1, 1] (not clamped)
  at::Tensor decode(const at::Tensor& z) const;

 private:
  TaesdConfig config_;
  std::vector<Layer> encoder_;
  std::vector<Layer> decoder_;
  c10::Device device_ = c10::Device(c10::kCPU);
  c10::ScalarType dtype_ = c10::kFloat;
};

}  // namespace sdxl::vae_taesd
