#pragma once
// The `taesd` vae_variant: TAESD-XL (diffusers AutoencoderTiny), a fast approximate VAE for
// previews and cheap decodes. Latents are UNet-space latents (scaling_factor 1.0 in its config).

#include <optional>
#include <string>
#include <vector>

#include "sdxl/sdk/options.h"
#include "sdxl/sdk/vae_variant.h"
#include "taesd_model.h"

namespace sdxl::vae_taesd {

std::vector<sdk::OptionSpec> taesd_option_schema();

class TaesdVae final : public sdk::VaeVariant {
 public:
  TaesdVae(const sdk::Options& options, const sdk::HostServices& services);

  sdk::Status load(const sdk::WeightSet& weights) override;
  sdk::VaeInfo info() const override;
  /// TAESD's encoder is deterministic: `noise` is ignored (there is no posterior to sample).
  sdk::Result<at::Tensor> encode(const at::Tensor& images, sdk::NoiseSource* noise, sdk::JobContext* job) override;
  sdk::Result<at::Tensor> decode(const at::Tensor& latents, sdk::JobContext* job) override;
  /// Per picture processed at once, at the output's P = H*W pixels and C decoder channels of the
  /// last level: the full-resolution stages hold about 3 C P elements (input, intermediate,
  /// output) plus the convolution workspace (9 C P with im2col, 2 C P with oneDNN), plus the
  /// float32 result, plus a fixed 64 MiB runtime overhead (as measured for the KL decoder).
  std::uint64_t estimate_decode_bytes(at::IntArrayRef latent_shape) const override;

 private:
  sdk::Result<at::Tensor> run_sliced(const at::Tensor& x, bool decoding, sdk::JobContext* job);

  sdk::HostServices services_;
  bool slice_batch_ = false;
  std::string source_;
  std::optional<TaesdModel> model_;
};

}  // namespace sdxl::vae_taesd
