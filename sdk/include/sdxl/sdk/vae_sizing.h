#pragma once
/// @file vae_sizing.h
/// Optional extension of kind `vae_variant`: the memory estimate for given weights before they
/// are loaded.
/// @since 1.1 (an extension, asked for by id: variants without it work unchanged, hosts that never
/// ask lose nothing, so it needs no ABI minor of its own)
///
/// To decode in tiles when memory is short, the host creates one variant per tile layout it
/// considers and keeps the first whose estimate_decode_bytes() fits. Loading every candidate
/// would copy the weights to the device each time, so it asks before load(); a variant then only
/// knows its default architecture and would size a VAE whose config differs (a float16-safe VAE
/// with force_upcast false, a small test model) as if it were the default one. With this
/// extension the host first names the weights it will load:
///
///   auto* sizing = static_cast<sdk::VaeSizing*>(variant->extension(SDXL_VAE_SIZING_EXTENSION));
///   if (sizing) sizing->size_for(weights);  // then estimate_decode_bytes(shape)
///
/// A non-null answer is owned by the variant and valid while it is.
/// Thread rules: as the variant's (one job at a time).

#include "sdxl/sdk/status.h"
#include "sdxl/sdk/vae_variant.h"

/// Extension id (VaeVariant::extension) of VaeSizing, version 1.
#define SDXL_VAE_SIZING_EXTENSION "org.sdxl.vae.sizing.v1"

namespace sdxl::sdk {
inline namespace v1 {

class VaeSizing {
 public:
  virtual ~VaeSizing() = default;
  /// Reads the architecture and precision `weights` imply (their config.json, else their tensors'
  /// names and shapes: no tensor data is read or copied); estimate_decode_bytes() answers for them
  /// from then on. An error here is the error load() would give for the same weights.
  virtual Status size_for(const WeightSet& weights) = 0;
};

}  // namespace v1
}  // namespace sdxl::sdk
