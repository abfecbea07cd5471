#pragma once
/// @file vae_variant.h
/// Kind `vae_variant`: an image autoencoder (SDXL's KL VAE, TAESD…) that encodes pictures to
/// latents and decodes them back, and says up front how much memory that will take.
/// @since 1.0
///
/// Pictures are float tensors [N, 3, H, W] in [-1, 1]; latents are [N, C, H/8, W/8] already
/// multiplied by the scaling factor (what the UNet sees).
/// Thread rules: one job at a time per object. Ownership: the weights given to load() may be
/// kept (tensors are reference counted).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>

#include "sdxl/sdk/host_services.h"
#include "sdxl/sdk/status.h"

namespace sdxl::sdk {
inline namespace v1 {

/// Weights of one component as the host read them (prefixes stripped to diffusers names).
struct WeightSet {
  std::string source;  ///< file or folder, for messages
  const std::map<std::string, at::Tensor>* tensors = nullptr;
  std::string config_json;  ///< the component's config.json, or empty when the file had none
};

struct VaeInfo {
  std::int64_t latent_channels = 4;
  double scaling_factor = 0.13025;
  double shift_factor = 0.0;
  std::int64_t downscale = 8;
};

class VaeVariant {
 public:
  virtual ~VaeVariant() = default;
  virtual Status load(const WeightSet& weights) = 0;
  virtual VaeInfo info() const = 0;
  /// `noise` null: the posterior mean; otherwise a sample drawn through it.
  virtual Result<at::Tensor> encode(const at::Tensor& images, NoiseSource* noise, JobContext* job) = 0;
  virtual Result<at::Tensor> decode(const at::Tensor& latents, JobContext* job) = 0;
  /// Peak bytes a decode of `latent_shape` would need beyond the weights.
  virtual std::uint64_t estimate_decode_bytes(at::IntArrayRef latent_shape) const = 0;
  virtual void* extension(const char* /*id*/) { return nullptr; }
};

}  // namespace v1
}  // namespace sdxl::sdk
