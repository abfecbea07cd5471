#pragma once
// Configurations and parameter shapes (diffusers/transformers names) of the demo model's
// components: SDXL's structure at toy widths, the same hyper-parameters as the golden tiny model.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::models::demo {

using ShapeList = std::vector<std::pair<std::string, std::vector<std::int64_t>>>;

struct DemoConfigs {
  nlohmann::json unet, vae, text_encoder, text_encoder_2;
};
const DemoConfigs& demo_configs();

/// Every parameter of component `name` ("unet", "vae", "text_encoder", "text_encoder_2").
sdk::Result<ShapeList> component_shapes(const std::string& name);

/// AutoencoderKL parameters for a config.json (encoder, decoder, quant convs).
ShapeList autoencoder_kl_shapes(const nlohmann::json& config);
/// CLIPTextModel(WithProjection) parameters for a config.json.
ShapeList clip_text_shapes(const nlohmann::json& config, bool with_projection);

}  // namespace sdxl::models::demo
