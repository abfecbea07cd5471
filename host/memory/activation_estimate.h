#pragma once
// How much scratch memory one UNet denoising step needs at its peak, before it runs — the
// activation part of a job's footprint for the memory arbiter. A structural count of the tensors
// alive at the peak (skip connections of the down path + the largest transient of one block +
// the attention score matrix, bounded by the chunking in models/common/attention.cpp), scaled by
// a factor fitted to the measured peak RSS growth of real forwards. docs/memory.md gives the
// derivation and the measurements.

#include <c10/core/ScalarType.h>

#include <cstdint>

namespace sdxl::models {
struct UNetConfig;
}

namespace sdxl::memory {

/// Elements (not bytes) alive at the peak of one UNet forward over `rows` latent rows of
/// `latent_h` x `latent_w`, before the fitted factor. Exposed for the tests and the docs.
struct ActivationCount {
  double skip_elements = 0;       ///< down-path outputs kept for the up path
  double transient_elements = 0;  ///< the largest block's own temporaries
  double score_elements = 0;      ///< attention scores + softmax, after chunking
  double total() const { return skip_elements + transient_elements + score_elements; }
  /// Every cross-attention's keys and values for a 77-token context, held for the whole job
  /// (models/unet/cross_attention_kv.h). Not part of total(): it is exact, not scaled by the
  /// fitted factor.
  double context_kv_elements = 0;
};
ActivationCount count_unet_activations(const models::UNetConfig& config, std::int64_t rows, std::int64_t latent_h,
                                       std::int64_t latent_w);

/// Peak scratch of one UNet step in bytes for `batch` images of `height` x `width` pixels
/// (latents are /8), `cfg` doubling the rows for classifier-free guidance.
std::uint64_t estimate_unet_activation_bytes(const models::UNetConfig& config, std::int64_t batch, std::int64_t height,
                                             std::int64_t width, c10::ScalarType dtype, bool cfg = true);

/// The same for SDXL base 1.0's UNet (320/640/1280 channels, attention depth 0/2/10).
std::uint64_t estimate_sdxl_activation_bytes(std::int64_t batch, std::int64_t height, std::int64_t width,
                                             c10::ScalarType dtype, bool cfg = true);

}  // namespace sdxl::memory
