#pragma once
// Structural hyper-parameters of an SDXL ControlNetModel: the UNet encoder half (reusing
// UNetConfig; the up-block fields are set to the mirrored values a UNet of the same encoder has,
// and are unused) plus the conditioning embedding. Read from a diffusers ControlNet config.json or
// inferred from the weights' shapes (head counts then follow SDXL's 64-channel-head convention).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/unet/unet_config.h"
#include "sdxl/sdk/status.h"

namespace sdxl::models {

struct ControlNetConfig {
  UNetConfig unet;                                    // encoder part (conv_in .. mid_block)
  std::int64_t conditioning_channels = 3;             // RGB control picture
  std::vector<std::int64_t> cond_embedding_channels;  // e.g. 16, 32, 96, 256 (one stride-2 step between each)

  /// Number of skip tensors = number of down residuals.
  std::int64_t num_down_residuals() const { return 1 + unet.levels() * (unet.layers_per_block + 1) - 1; }
  /// Picture pixels per latent pixel along a side (2^(steps of the cond embedding)).
  std::int64_t cond_downscale() const {
    return std::int64_t{1} << (cond_embedding_channels.empty() ? 0 : cond_embedding_channels.size() - 1);
  }

  /// Parses a diffusers ControlNetModel config.json; `source` names it in messages.
  static sdk::Result<ControlNetConfig> from_diffusers_json(const nlohmann::json& j, const std::string& source);

  /// Infers a diffusers-style config.json from tensor shapes (diffusers names); errors name `source`.
  static sdk::Result<nlohmann::json> infer_json(const std::map<std::string, std::vector<std::int64_t>>& shapes,
                                                const std::string& source);
};

}  // namespace sdxl::models
