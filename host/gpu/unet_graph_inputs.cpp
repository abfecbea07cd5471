#include "gpu/unet_graph_inputs.h"

#include <ATen/ATen.h>

#include <string>

namespace sdxl::gpu {

sdk::Result<UNetGraphInputs> UNetGraphInputs::copy_of(const models::UNetInputs& example) {
  if (!example.down_residuals.empty() || example.mid_residual.defined())
    return sdk::unsupported("CUDA graph: ControlNet residuals are not captured");
  return sdk::guard("CUDA graph inputs", [&]() -> sdk::Result<UNetGraphInputs> {
    UNetGraphInputs g;
    const auto dst = graph_input_tensors(g.inputs_);
    const auto src = graph_input_tensors(example);
    for (std::size_t i = 0; i < dst.size(); ++i) *dst[i] = src[i]->contiguous().clone();
    if (const auto& kv = example.context_kv) {
      if (!kv->computed_from(example.encoder_hidden_states))
        return sdk::invalid_argument("CUDA graph: context_kv was not computed from these encoder_hidden_states");
      // The copy belongs to the buffer: the captured forward's check that its pairs come from
      // the call's own context holds for the buffer, and load() refreshes both together.
      g.kv_ = std::make_shared<models::CrossAttentionKV>(g.inputs_.encoder_hidden_states, kv->model());
      for (const auto& [layer, pair] : kv->pairs()) g.kv_->add(layer, pair.first.clone(), pair.second.clone());
      g.inputs_.context_kv = g.kv_;
      g.loaded_kv_ = kv;
    }
    return g;
  });
}

sdk::Status UNetGraphInputs::load(const models::UNetInputs& in) {
  const auto dst = graph_input_tensors(inputs_);
  const auto src = graph_input_tensors(in);
  for (std::size_t i = 0; i < dst.size(); ++i)
    if (!src[i]->defined() || src[i]->sizes() != dst[i]->sizes())
      return sdk::invalid_argument("CUDA graph: input shapes differ from the captured ones");
  const auto& ours = inputs_.context_kv;
  const auto& theirs = in.context_kv;
  if (static_cast<bool>(ours) != static_cast<bool>(theirs))
    return sdk::invalid_argument(ours ? "CUDA graph: captured with context keys/values, called without"
                                      : "CUDA graph: captured without context keys/values, called with them");
  if (theirs && (!theirs->belongs_to(ours->model(), in.encoder_hidden_states) || theirs->layers() != ours->layers()))
    return sdk::invalid_argument("CUDA graph: context_kv was computed by another model or from other "
                                 "encoder_hidden_states than the call's");
  const bool new_kv = theirs && loaded_kv_.lock() != theirs;
  if (new_kv)
    for (const auto& [layer, pair] : ours->pairs())
      if (const auto* p = theirs->find(layer); !p || p->first.sizes() != pair.first.sizes() ||
                                               p->second.sizes() != pair.second.sizes())
        return sdk::invalid_argument("CUDA graph: context keys/values differ in layers or shapes from the captured ones");
  return sdk::guard("CUDA graph inputs", [&]() -> sdk::Status {
    for (std::size_t i = 0; i < dst.size(); ++i) dst[i]->copy_(*src[i]);
    if (new_kv) {
      for (const auto& [layer, pair] : ours->pairs()) {
        const auto* p = theirs->find(layer);
        pair.first.copy_(p->first);
        pair.second.copy_(p->second);
      }
      loaded_kv_ = theirs;
      ++context_kv_loads_;
    }
    // The context buffer was overwritten with the context the pairs now in the buffers belong to
    // (checked above), so a forward on inputs() takes them: the capture's check, and the tests'
    // eager runs on the buffers.
    if (kv_) kv_->accept_context_version();
    return sdk::Status::Ok();
  });
}

}  // namespace sdxl::gpu
