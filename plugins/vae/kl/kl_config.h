#pragma once
// AutoencoderKL hyper-parameters: from the component's config.json (diffusers) when there is one,
// otherwise inferred from tensor shapes (single-file checkpoints carry no configuration).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::vae_kl {

struct KlConfig {
  std::int64_t in_channels = 3;
  std::int64_t out_channels = 3;
  std::int64_t latent_channels = 4;
  std::vector<std::int64_t> block_out_channels{128, 256, 512, 512};  ///< encoder order
  std::int64_t layers_per_block = 2;  ///< decoder blocks have one more resnet
  std::int64_t norm_num_groups = 32;
  double scaling_factor = 0.13025;
  double shift_factor = 0.0;
  bool force_upcast = true;
  bool mid_block_add_attention = true;
  bool use_quant_conv = true;
  bool use_post_quant_conv = true;
  bool from_config_json = false;  ///< false: inferred from weights (defaults for what cannot be)

  /// Spatial down-scaling factor between picture and latent: 2^(blocks-1).
  std::int64_t downscale() const { return std::int64_t{1} << (block_out_channels.size() - 1); }
};

/// Parses diffusers' AutoencoderKL config.json. Missing keys keep diffusers' defaults; wrong types
/// or impossible values fail with invalid_argument naming `source` and the key.
sdk::Result<KlConfig> parse_kl_config(const std::string& json_text, const std::string& source);

/// Infers the architecture from diffusers-named tensors: block_out_channels from the encoder's
/// (or decoder's) resnet conv shapes, layers_per_block from the resnet count, latent channels from
/// decoder.conv_in, attention and quant convs from their presence. The scaling factor cannot be
/// inferred and stays at SDXL's 0.13025.
sdk::Result<KlConfig> infer_kl_config(const std::map<std::string, at::Tensor>& weights,
                                      const std::string& source);

}  // namespace sdxl::vae_kl
