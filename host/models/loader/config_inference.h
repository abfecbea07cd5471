#pragma once
// Architecture inference from tensor shapes (diffusers names), for single files without a config.
// Produces diffusers config.json contents. What shapes cannot tell (attention head counts, the
// per-time-id sinusoid width, eps values, activations) follows the SDXL conventions listed in
// docs/models.md; validate_against_shapes() checks a supplied config against the weights.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::models::loader {

using ShapeMap = std::map<std::string, std::vector<std::int64_t>>;

/// `pooled_dim`: width of the pooled text embedding (TE2 projection) when known, else 0 (then
/// 1280 is assumed). `source` names the weights in messages.
sdk::Result<nlohmann::json> infer_unet_config(const ShapeMap& unet, std::int64_t pooled_dim, const std::string& source);
sdk::Result<nlohmann::json> infer_vae_config(const ShapeMap& vae, const std::string& source);
/// `with_projection`: text_encoder_2 (CLIPTextModelWithProjection, gelu) vs text_encoder (quick_gelu).
sdk::Result<nlohmann::json> infer_text_encoder_config(const ShapeMap& te, bool with_projection, const std::string& source);

/// Compares the structural UNet fields of `config` (from a file) with those inferred from the
/// weights; invalid_argument naming both on the first difference.
sdk::Status validate_unet_config(const nlohmann::json& config, const nlohmann::json& inferred,
                                 const std::string& config_source, const std::string& weights_source);

}  // namespace sdxl::models::loader
