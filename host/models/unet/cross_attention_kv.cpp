#include "models/unet/cross_attention_kv.h"

#include <atomic>

namespace sdxl::models {

CrossAttentionKV::CrossAttentionKV(at::Tensor context, std::uint64_t model)
    : context_(std::move(context)), context_version_(static_cast<std::int64_t>(context_._version())), model_(model) {}

std::uint64_t CrossAttentionKV::new_model_id() {
  static std::atomic<std::uint64_t> last{0};
  return ++last;
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
