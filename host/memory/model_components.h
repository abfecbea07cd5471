#pragma once
// Registering a loaded SdxlModel's networks with the memory arbiter, so admission can move and
// drop them:
//   <model>.unet, <model>.text_encoder, <model>.text_encoder_2 — movable (weights re-seated in
//       place on another device) and droppable (storage freed; re-read from the checkpoint's
//       memory-mapped file on reload);
//   <model>.vae — accounted but pinned: its weights live inside the VAE plugin, which the SDK
//       gives no way to move; it is small (about 160 MiB in fp16 for SDXL).
// In sequential mode on a non-CPU device the UNet also gets a SequentialStreamer
// (memory/sequential_offload.h) as its block observer, is registered on the host (moved there if
// it is not) and reports its largest block as the streaming window; the text encoders are one
// block each (their window is their whole size).
// The names are the ones SdxlModel::load already records in the ledger, so registration replaces
// those entries instead of counting the weights twice.
//
// CUDA graphs ([gpu] cuda_graphs): while the model's UNetGraphCache holds a captured graph, its
// activation pool is booked as <model>.unet_graph, pinned (it is freed by the next shape, not by
// eviction), sized by the activation estimate for the captured inputs.
//
// LoRAs: a component with LoRAs merged into it must stay pinned while they are merged (a drop
// and reload would bring back the unmerged weights): pin it with MemoryArbiter::set_pinned while
// they are merged.

#include <memory>
#include <string>
#include <vector>

#include "memory/arbiter.h"
#include "pipeline/sdxl_model.h"

namespace sdxl::memory {

/// Registers the model's components, accounted on `device` (the model's own device normally; a
/// simulated "cuda:0" in CPU tests). Returns the registered names.
sdk::Result<std::vector<std::string>> register_model_components(MemoryArbiter& arbiter,
                                                                const std::shared_ptr<pipeline::SdxlModel>& model,
                                                                const pipeline::ModelSpec& spec, c10::Device device);

/// The registered names of `model`'s networks, in pipeline order (text encoders, UNet, VAE).
std::vector<std::string> model_component_names(const pipeline::SdxlModel& model);

/// Unregisters them (when the model is unloaded) and detaches a streamer attached by registration.
void unregister_model_components(MemoryArbiter& arbiter, const pipeline::SdxlModel& model);

}  // namespace sdxl::memory
