#pragma once
// The `kl` vae_variant: SDXL's AutoencoderKL behind the SDK interface. Adds to the bare networks
// (kl_model.h) the scaling factor, posterior sampling, batch slicing, tiled encode/decode,
// force_upcast and input validation.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kl_model.h"
#include "sdxl/sdk/options.h"
#include "sdxl/sdk/vae_sizing.h"
#include "sdxl/sdk/vae_variant.h"
#include "tiling.h"

namespace sdxl::vae_kl {

/// The option schema of feature `kl` (see docs/vae.md).
std::vector<sdk::OptionSpec> kl_option_schema();

class KlVae final : public sdk::VaeVariant, private sdk::VaeSizing {
 public:
  KlVae(const sdk::Options& options, const sdk::HostServices& services);

  sdk::Status load(const sdk::WeightSet& weights) override;
  sdk::VaeInfo info() const override;
  sdk::Result<at::Tensor> encode(const at::Tensor& images, sdk::NoiseSource* noise, sdk::JobContext* job) override;
  sdk::Result<at::Tensor> decode(const at::Tensor& latents, sdk::JobContext* job) override;
  /// For the loaded model; before load(), for the weights size_for() named, else for SDXL's VAE.
  std::uint64_t estimate_decode_bytes(at::IntArrayRef latent_shape) const override;
  /// SDXL_VAE_SIZING_EXTENSION: this object as a VaeSizing.
  void* extension(const char* id) override;

  /// The posterior's moments [N, 2C, h, w] (mean, logvar before clamping) for images; for tests
  /// and golden replays that check the latent distribution itself.
  sdk::Result<at::Tensor> encode_moments(const at::Tensor& images, sdk::JobContext* job);
  const KlConfig* config() const { return model_ ? &model_->config() : nullptr; }
  /// The dtype decodes run in: the loaded model's, else what the config estimates are for implies.
  c10::ScalarType compute_dtype() const {
    return model_ ? model_->dtype() : compute_dtype_for(estimated_config().force_upcast);
  }

 private:
  c10::ScalarType compute_dtype_for(bool force_upcast) const;
  // The architecture estimates are for: the loaded model's, else size_for()'s, else SDXL's.
  KlConfig estimated_config() const { return model_ ? model_->config() : sized_config_.value_or(KlConfig{}); }
  // VaeSizing: the architecture and compute dtype `weights` imply, without binding them.
  sdk::Status size_for(const sdk::WeightSet& weights) override;
  // The architecture of `weights`: their config.json, else inferred from the tensors' shapes.
  static sdk::Result<KlConfig> config_of(const sdk::WeightSet& weights);
  // Whether the host's DeviceOps keep channels-last norms for this instance in `dtype`.
  bool keeps_norm_layout(c10::ScalarType dtype) const;
  // Runs fn over batch slices (when slicing) and tiles (when tiling and larger than a tile).
  sdk::Result<at::Tensor> run_sliced_tiled(const at::Tensor& input, std::int64_t in_scale, std::int64_t out_scale,
                                           const std::function<at::Tensor(const at::Tensor&)>& fn,
                                           sdk::JobContext* job, const char* what);

  sdk::HostServices services_;
  bool tiling_ = false;
  std::int64_t tile_height_ = 64, tile_width_ = 64;  ///< latent pixels (tile_size unless set apart)
  std::int64_t tile_overlap_ = 16;
  bool slice_batch_ = false;
  std::string force_upcast_ = "auto";
  bool native_bfloat16_ = false;  ///< the device's, asked once (kl_precision.h)
  KlComputeOptions compute_;
  bool nhwc_norms_ = false;  ///< the host's DeviceOps keep channels-last norms (load() asks)
  std::string source_;
  std::optional<KlConfig> sized_config_;  ///< size_for()'s, until load()
  std::optional<KlModel> model_;
};

}  // namespace sdxl::vae_kl
