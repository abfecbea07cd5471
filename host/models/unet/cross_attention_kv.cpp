#include "models/unet/cross_attention_kv.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>  // c10::NoGradGuard (torch 2.11 no longer brings it with ATen.h)

#include <atomic>

#include "models/unet/transformer2d.h"

namespace sdxl::models {

CrossAttentionKV::CrossAttentionKV(at::Tensor context, std::uint64_t model)
    : context_(std::move(context)), context_version_(static_cast<std::int64_t>(context_._version())), model_(model) {}

std::uint64_t CrossAttentionKV::new_model_id() {
  static std::atomic<std::uint64_t> last{0};
  return ++last;
}

sdk::Result<std::shared_ptr<const CrossAttentionKV>> CrossAttentionKV::compute(
    const std::vector<const Transformer2DModel*>& transformers, const at::Tensor& encoder_hidden_states,
    std::int64_t context_dim, std::uint64_t model, c10::Device device, c10::ScalarType dtype, const std::string& who) {
  const auto& ehs = encoder_hidden_states;
  if (!ehs.defined() || ehs.dim() != 3 || ehs.size(2) != context_dim)
    return sdk::invalid_argument(who + ": encoder_hidden_states must be [B, M, " + std::to_string(context_dim) + "]");
  return sdk::guard(who, [&]() -> sdk::Result<std::shared_ptr<const CrossAttentionKV>> {
    c10::NoGradGuard no_grad;
    auto kv = std::make_shared<CrossAttentionKV>(ehs, model);
    const at::Tensor context = ehs.to(device, dtype);
    for (const Transformer2DModel* t : transformers) t->add_context_kv(context, *kv);
    return std::shared_ptr<const CrossAttentionKV>(std::move(kv));
  });
}

void CrossAttentionKV::add(const CrossAttention* layer, at::Tensor keys, at::Tensor values) {
  pairs_[layer] = {std::move(keys), std::move(values)};
}

std::uint64_t CrossAttentionKV::bytes() const {
  std::uint64_t n = 0;
  for (const auto& [layer, pair] : pairs_) n += static_cast<std::uint64_t>(pair.first.nbytes() + pair.second.nbytes());
  return n;
}

const std::pair<at::Tensor, at::Tensor>* CrossAttentionKV::find(const CrossAttention* layer) const {
  const auto it = pairs_.find(layer);
  return it == pairs_.end() ? nullptr : &it->second;
}

void CrossAttentionKV::accept_context_version() { context_version_ = static_cast<std::int64_t>(context_._version()); }

bool CrossAttentionKV::computed_from(const at::Tensor& context) const {
  return context.defined() && context.is_same(context_) &&
         static_cast<std::int64_t>(context._version()) == context_version_;
}

}  // namespace sdxl::models
