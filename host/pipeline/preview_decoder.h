#pragma once
// The decoder used for step previews: TAESD-XL (the taesd vae_variant plugin) from a diffusers
// folder (config.json + diffusion_pytorch_model.safetensors) or a single .safetensors file. Without
// one, previews use SDXL's linear latent→RGB approximation (pipeline/preview.h).

#include <filesystem>
#include <memory>

#include "plugins/registry.h"
#include "sdxl/sdk/vae_variant.h"

namespace sdxl::pipeline {

/// `placement`: the model's device and dtype (previews decode where the latents are).
sdk::Result<std::unique_ptr<sdk::VaeVariant>> load_preview_decoder(const std::filesystem::path& taesd,
                                                                   const plugins::PluginRegistry& registry,
                                                                   const plugins::Placement* placement = nullptr);

}  // namespace sdxl::pipeline
