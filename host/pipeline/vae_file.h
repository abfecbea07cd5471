#pragma once
// A VAE given on its own ([model] vae, `--vae`, [generate] preview_taesd) instead of the
// checkpoint's: which vae_variant plugin reads it and its tensors under diffusers names.
//
// Accepted (the layouts SDXL VAEs are published in):
//   * a diffusers component folder: config.json + diffusion_pytorch_model[.fp16].safetensors
//     (madebyollin/sdxl-vae-fp16-fix, stabilityai/sdxl-vae, madebyollin/taesdxl);
//   * a diffusers pipeline folder: its vae/;
//   * a .safetensors file with diffusers names, with the original names (sdxl_vae.safetensors), or
//     a whole single-file checkpoint, whose first_stage_model.* part is taken.
// The plugin is "taesd" for an AutoencoderTiny (config _class_name, or encoder/decoder.layers.*
// names), else "kl". A file has no config: the kl plugin infers the architecture from the shapes
// and takes SDXL's scaling factor, 0.13025.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "models/loader/checkpoint.h"
#include "sdxl/sdk/status.h"

namespace sdxl::pipeline {

struct VaeWeights {
  std::string feature;                        ///< vae_variant plugin: "kl" or "taesd"
  std::map<std::string, at::Tensor> tensors;  ///< diffusers names; views of the mapped file(s)
  std::string config_json;                    ///< config.json's text; empty when there is none
  std::string source;                         ///< the path, for messages
  std::uint64_t bytes = 0;                    ///< file bytes the tensors map (memory ledger)
};

/// A loaded VAE component (a checkpoint's own, or one read here) as VaeWeights for `feature`.
VaeWeights vae_weights_of(models::loader::ComponentWeights component, std::string feature);

/// Reads the VAE at `path`; errors name the path and what is wrong with it.
sdk::Result<VaeWeights> read_vae_weights(const std::filesystem::path& path);

/// How pictures and the A1111 API name the VAE at `path`: its file or folder name
/// ("sdxl_vae.safetensors", "sdxl-vae-fp16-fix"), never the rest of the path.
std::string vae_display_name(const std::filesystem::path& path);

}  // namespace sdxl::pipeline
