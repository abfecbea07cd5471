#pragma once
// When a UNet call may be replayed from a captured CUDA graph, and the one graph a model keeps.
//
// A graph bakes in everything a forward touches besides its five inputs: the weights' storage,
// the runtime-LoRA adapters attached to them, a ControlNet's residuals, a streaming observer's
// moves. So a call is replayed only when none of those can differ from the captured one:
//   * the UNet is on CUDA and the build has CUDA graphs (gpu/unet_cuda_graph.h);
//   * no ControlNet residuals, no block observer (sequential offload), no layer adapters
//     (runtime LoRA) anywhere in the process;
//   * the input shapes/dtypes, whether the call brings its context keys/values (a job's do), and
//     the weights' storage (a fingerprint of every parameter's data pointer: the arbiter re-seats
//     weights when it moves them) equal the captured ones.
// Anything else runs eagerly. The first call with a new key runs eagerly too (it warms cuDNN's
// and cuBLAS's caches); the second captures, and later ones replay. A capture that fails is
// logged once and the model stays eager.
//
// Thread rules: forward() may be called from several jobs at once; graph calls are serialised
// (the graph's static buffers are shared). Memory: a captured graph keeps its activations in a
// private pool of the CUDA allocator until the key changes or the cache is destroyed; the pool
// observer (set by memory::register_model_components) tells the memory arbiter.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "models/unet/unet_model.h"
#include "sdxl/sdk/status.h"

namespace sdxl::pipeline {

/// What the cache needs from a graph implementation: gpu::UNetCudaGraph in production
/// (UNetGraphBackend::cuda()); tests substitute one that records what it is asked.
struct UNetGraphBackend {
  /// Replays the captured call for new inputs of the captured shapes; returns the graph's own
  /// output tensor (the cache copies it out).
  using Replay = std::function<sdk::Result<at::Tensor>(const models::UNetInputs&)>;
  bool available = false;  ///< this build can capture at all
  bool cuda_only = true;   ///< refuse UNets that are not on a CUDA device
  std::function<sdk::Result<Replay>(const models::UNet2DConditionModel&, const models::UNetInputs&)> capture;

  static UNetGraphBackend cuda();
};

/// Why `in` on `unet` must run eagerly (empty: `backend` may replay it).
std::string unet_graph_refusal(const models::UNet2DConditionModel& unet, const models::UNetInputs& in,
                               const UNetGraphBackend& backend);

class UNetGraphCache {
 public:
  explicit UNetGraphCache(UNetGraphBackend backend = UNetGraphBackend::cuda());

  /// eps for `in`, from the graph when allowed, else from unet.forward(in). The result is the
  /// caller's own tensor (never the graph's static output).
  sdk::Result<at::Tensor> forward(const models::UNet2DConditionModel& unet, const models::UNetInputs& in);

  /// Told whenever the memory the cache keeps changes: after a capture with the captured inputs
  /// (the graph's pool holds about one forward's activations for them), and with nullptr when
  /// that graph is dropped. Called with the cache's lock held: it must not call back into the
  /// cache. nullptr removes it.
  using PoolObserver = std::function<void(const models::UNetInputs* captured)>;
  void set_pool_observer(PoolObserver observer);

  /// Calls answered by replaying a graph, and graphs captured, since construction.
  std::int64_t replays() const;
  std::int64_t captures() const;

 private:
  UNetGraphBackend backend_;
  mutable std::mutex mutex_;
  std::vector<std::int64_t> key_;  // shapes, dtypes and weights fingerprint of the graph (or of its eager warm-up)
  bool failed_ = false;            // a capture failed: stay eager
  PoolObserver pool_observer_;
  UNetGraphBackend::Replay replay_;  // empty: not captured for key_
  std::int64_t replays_ = 0, captures_ = 0;
};

/// Process-wide switch ([gpu] cuda_graphs, set at start-up): whether generate uses a model's
/// UNetGraphCache. Off by default.
void set_cuda_graphs(bool enabled);
bool cuda_graphs_enabled();

}  // namespace sdxl::pipeline
