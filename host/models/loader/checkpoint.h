#pragma once
// Opening an SDXL checkpoint in either layout and handing out its components keyed by diffusers
// names:
//   * diffusers folder: model_index.json, unet/, vae/, text_encoder/, text_encoder_2/ with
//     config.json and weights (<stem>.safetensors, <stem>.fp16.safetensors, or a sharded
//     <stem>.safetensors.index.json); stem diffusion_pytorch_model (unet, vae) / model (text encoders).
//   * single file (SGM names: model.diffusion_model.*, first_stage_model.*, conditioner.embedders.*),
//     F32/F16/BF16; configs come from --model-config DIR (a diffusers folder) or are inferred.
//
// Tensors are zero-copy views of the memory-mapped files (the q/k/v split and the transposes are
// views too); a model converts them to its compute dtype when it is built.
//
// Thread rules: a Checkpoint is immutable after load_checkpoint().

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "sdxl/sdk/status.h"

namespace sdxl::models::loader {

enum class Layout { diffusers_folder, single_file };

struct ComponentWeights {
  std::string name;                            ///< "unet", "vae", "text_encoder", "text_encoder_2"
  std::map<std::string, at::Tensor> tensors;   ///< diffusers names -> views of the file(s)
  nlohmann::json config;                       ///< diffusers config.json contents (read or inferred)
  std::string config_source;                   ///< the config file, or "inferred from weights"
  std::string source;                          ///< weight file(s), for messages
  std::uint64_t bytes = 0;                     ///< bytes of file data these tensors map (ledger)
};

struct LoadOptions {
  std::filesystem::path model_config;  ///< diffusers folder whose <component>/config.json are used
  bool prefer_fp16_variant = false;     ///< diffusers folders: take <stem>.fp16.safetensors first
  std::set<std::string> components;     ///< which to load; empty = all present
};

struct Checkpoint {
  Layout layout = Layout::diffusers_folder;
  std::filesystem::path path;
  std::map<std::string, ComponentWeights> components;
  std::vector<std::string> ignored;  ///< known extras skipped (single file)

  /// The component, or not_found naming the checkpoint and what it lacks.
  sdk::Result<const ComponentWeights*> component(const std::string& name) const;
  bool has_component(const std::string& name) const { return components.count(name) > 0; }
  /// Bytes per component (for the memory ledger).
  std::map<std::string, std::uint64_t> bytes_per_component() const;
};

/// One component folder of a diffusers layout (`dir`: config.json + <stem>[.fp16].safetensors or a
/// sharded index; stem per `name` as above), e.g. a VAE published on its own.
sdk::Status load_folder_component(const std::filesystem::path& dir, const std::string& name, const LoadOptions& options,
                                  ComponentWeights* out);

/// Detects the layout of `path` (a folder with model_index.json or a component folder layout, or
/// a .safetensors file) and loads the requested components.
sdk::Result<Checkpoint> load_checkpoint(const std::filesystem::path& path, const LoadOptions& options = {});

}  // namespace sdxl::models::loader
