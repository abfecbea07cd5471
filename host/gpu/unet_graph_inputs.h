#pragma once
// The static input buffers a captured UNet call reads (gpu/unet_cuda_graph.h), and how new inputs
// get into them.
//
// A CUDA graph replays kernels on fixed addresses, so each call's inputs are copied into buffers
// made at capture. Besides the five per-step tensors, a call may carry the cross-attentions' keys
// and values for its text context (models/unet/cross_attention_kv.h: computed once per job). A
// graph captured with them replays without the 140 small products that make them — at 512²
// they are a few percent of a step — and needs them copied in only when a job brings new ones:
// load() copies a pair set once and skips it for the following steps of the same job.
//
// Plain ATen (no CUDA code): the CPU tests run a forward on inputs() after load() and compare it
// with the call made directly.
#include <ATen/core/Tensor.h>

#include <array>
#include <memory>

#include "models/unet/unet_model.h"
#include "sdxl/sdk/status.h"

namespace sdxl::gpu {

/// The tensors a captured UNet call reads from its inputs besides the context keys/values
/// (ControlNet residuals are never captured), in one list for capture, replay and the cache's
/// key. `Inputs`: models::UNetInputs, const or not.
template <class Inputs>
auto graph_input_tensors(Inputs& in) {
  return std::array{&in.sample, &in.timestep, &in.encoder_hidden_states, &in.text_embeds, &in.time_ids};
}

class UNetGraphInputs {
 public:
  /// Buffers shaped like `example`'s tensors and holding their values; with `example.context_kv`,
  /// a copy of its pairs that belongs to the buffers' own encoder_hidden_states.
  static sdk::Result<UNetGraphInputs> copy_of(const models::UNetInputs& example);

  /// What the captured forward reads.
  const models::UNetInputs& inputs() const { return inputs_; }
  bool has_context_kv() const { return static_cast<bool>(inputs_.context_kv); }

  /// Copies `in` into the buffers: the same shapes as at capture, and context keys/values exactly
  /// when the capture had them (made by the same UNet from in.encoder_hidden_states). The pairs
  /// are copied only when `in` brings another set than the previous load.
  sdk::Status load(const models::UNetInputs& in);

  /// Pair sets copied by load() so far (tests: once per job, not per step).
  int context_kv_loads() const { return context_kv_loads_; }

 private:
  models::UNetInputs inputs_;
  std::shared_ptr<models::CrossAttentionKV> kv_;  // inputs_.context_kv, writable
  std::weak_ptr<const models::CrossAttentionKV> loaded_kv_;  // the set last copied in (not kept alive)
  int context_kv_loads_ = 0;
};

}  // namespace sdxl::gpu
