#pragma once
// Reading a ControlNet's weights, keyed by diffusers names, from the layouts SDXL ControlNets ship in:
//   * diffusers folder: config.json + diffusion_pytorch_model[.fp16].safetensors;
//   * original "cldm" single file (input_hint_block.*, zero_convs.*, middle_block_out.*, UNet
//     encoder in SGM names), optionally prefixed `control_model.`; F32/F16/BF16;
//   * single file with diffusers names (controlnet_cond_embedding.*, controlnet_down_blocks.*).
// Single files carry no config: it comes from a config folder when given, else from the shapes
// (head counts then follow SDXL's 64-channel heads). Tensors are zero-copy views of the mapping.

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "sdxl/sdk/status.h"

namespace sdxl::models {

enum class ControlNetLayout { diffusers_folder, cldm_single_file, diffusers_single_file };
const char* to_string(ControlNetLayout layout);

struct ControlNetWeights {
  ControlNetLayout layout = ControlNetLayout::diffusers_folder;
  std::map<std::string, at::Tensor> tensors;  ///< diffusers names -> views of the file
  nlohmann::json config;                      ///< diffusers ControlNet config.json (read or inferred)
  std::string config_source;                  ///< the config file, or "inferred from weights ..."
  std::string source;                         ///< the weight file, for messages
  std::uint64_t file_bytes = 0;               ///< bytes of tensor data in the file
};

/// `config_dir`: optional folder holding config.json (or controlnet/config.json) for single files.
/// Errors name the file: not_found for a missing path, invalid_argument for a file that is not a
/// ControlNet (e.g. a UNet or a full checkpoint) or holds unknown tensors.
sdk::Result<ControlNetWeights> read_controlnet_weights(const std::filesystem::path& file_or_folder,
                                                       const std::filesystem::path& config_dir = {});

}  // namespace sdxl::models
