#pragma once
// Deciding up front how to decode, instead of catching an out-of-memory error: the VAE variant
// reports its peak for the latent shape; when that exceeds what the memory ledger has left on
// the device, the same variant is built with tiling and the cheapest tiles whose estimate fits:
// first tiles fitted to the picture (every split up to 8 x 8, full-width strips included, ordered
// by the latent pixels decoded in all, overlaps counted twice), then square tiles of 128, 96, 64,
// 48 and 32 latent pixels (all a variant without tile_height/tile_width can take). When even the
// smallest tile does not fit on a GPU, the decode moves to the host (a float32 instance of the
// same variant on the CPU, tiled there too if the host budget asks for it): slow, but the job
// completes. When nothing fits anywhere, the job is refused with the numbers, before any
// decoding starts.

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>

#include "pipeline/sdxl_model.h"
#include "plugins/registry.h"

namespace sdxl::pipeline {

struct VaeChoice {
  sdk::VaeVariant* vae = nullptr;              ///< what to decode with (the model's or `owned`)
  std::unique_ptr<sdk::VaeVariant> owned;      ///< a tiled or host instance built for this decode
  c10::Device device = c10::Device(c10::kCPU); ///< where `vae` decodes: move the latents there
  std::string reason;                          ///< for the log
};

sdk::Result<VaeChoice> choose_vae_for_decode(SdxlModel& model, const plugins::PluginRegistry& registry,
                                             at::IntArrayRef latent_shape);

/// [memory] vae_decode: the most one decode may use on the model's device (0: no cap, only what the
/// ledger has free there). Above it the decode tiles as if the device had only that much free;
/// the host fallback is not capped. Process-wide, set at start (app/bootstrap.cpp).
void set_vae_decode_limit(std::uint64_t bytes);
std::uint64_t vae_decode_limit();

/// The decode peak with the smallest tile choose_vae_for_decode would try (0 when the model's VAE
/// variant cannot tile): what memory admission may plan for instead of refusing a job.
std::uint64_t smallest_tiled_decode_bytes(const SdxlModel& model, const plugins::PluginRegistry& registry,
                                          at::IntArrayRef latent_shape);

}  // namespace sdxl::pipeline
