#include "models/common/layers.h"

#include <ATen/ATen.h>

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "gpu/group_norm_nhwc.h"
#include "models/common/cpu_matmul.h"

namespace sdxl::models {
namespace {

struct AdapterEntry {
  at::Tensor weight;  // keeps the TensorImpl alive, so its address cannot be reused while attached
  std::shared_ptr<const LayerAdapter> adapter;
};

struct AdapterTable {
  std::shared_mutex mutex;
  std::unordered_map<const c10::TensorImpl*, AdapterEntry> entries;
  std::atomic<std::size_t> count{0};
};

AdapterTable& adapter_table() {
  static AdapterTable table;
  return table;
}

}  // namespace

void set_layer_adapter(const at::Tensor& weight, std::shared_ptr<const LayerAdapter> adapter) {
  if (!weight.defined()) return;
  AdapterTable& t = adapter_table();
  std::unique_lock<std::shared_mutex> lock(t.mutex);
  if (adapter) t.entries[weight.unsafeGetTensorImpl()] = AdapterEntry{weight, std::move(adapter)};
  else t.entries.erase(weight.unsafeGetTensorImpl());
  t.count.store(t.entries.size());
}

std::shared_ptr<const LayerAdapter> layer_adapter(const at::Tensor& weight) {
  AdapterTable& t = adapter_table();
  if (t.count.load(std::memory_order_relaxed) == 0 || !weight.defined()) return nullptr;
  std::shared_lock<std::shared_mutex> lock(t.mutex);
  auto it = t.entries.find(weight.unsafeGetTensorImpl());
  return it == t.entries.end() ? nullptr : it->second.adapter;
}

std::size_t layer_adapter_count() { return adapter_table().count.load(); }

at::Tensor add_linear_adapter(const at::Tensor& y, const at::Tensor& x, const at::Tensor& weight) {
  auto a = layer_adapter(weight);
  return a ? y + a->linear(x).to(y.scalar_type()) : y;
}

void Linear::load(WeightReader& r, const std::string& prefix, std::int64_t in, std::int64_t out, bool with_bias) {
  weight = r.take(prefix + ".weight", {out, in});
  if (with_bias) bias = r.take(prefix + ".bias", {out});
}

at::Tensor Linear::operator()(const at::Tensor& x) const {
  return add_linear_adapter(models::linear(x, weight, bias), x, weight);
}

void Conv2d::load(WeightReader& r, const std::string& prefix, std::int64_t in, std::int64_t out,
                  std::int64_t kernel, std::int64_t stride_, std::int64_t padding_, bool with_bias) {
  weight = r.take(prefix + ".weight", {out, in, kernel, kernel});
  if (with_bias) bias = r.take(prefix + ".bias", {out});
  stride = stride_;
  padding = padding_;
}

at::Tensor Conv2d::operator()(const at::Tensor& x) const {
  at::Tensor y = models::conv2d(x, weight, bias, stride, padding);
  if (auto a = layer_adapter(weight)) return y + a->conv2d(x, stride, padding).to(y.scalar_type());
  return y;
}

void GroupNorm::load(WeightReader& r, const std::string& prefix, std::int64_t channels, std::int64_t groups_,
                     double eps_) {
  weight = r.take(prefix + ".weight", {channels});
  bias = r.take(prefix + ".bias", {channels});
  groups = groups_;
  eps = eps_;
}

at::Tensor GroupNorm::operator()(const at::Tensor& x) const {
  // Channels-last CUDA input stays channels-last (libtorch's GroupNorm would return it
  // channels-first); elsewhere, or where the kernels do not apply, libtorch.
  if (at::Tensor y = gpu::group_norm_nhwc(x, groups, weight, bias, eps, /*silu=*/false); y.defined()) return y;
  return at::group_norm(x, groups, weight, bias, eps);
}

at::Tensor GroupNorm::with_silu(const at::Tensor& x) const {
  if (at::Tensor y = gpu::group_norm_nhwc(x, groups, weight, bias, eps, /*silu=*/true); y.defined()) return y;
  at::Tensor y = at::group_norm(x, groups, weight, bias, eps);
  return at::silu_(y);
}

void LayerNorm::load(WeightReader& r, const std::string& prefix, std::int64_t channels, double eps_) {
  weight = r.take(prefix + ".weight", {channels});
  bias = r.take(prefix + ".bias", {channels});
  eps = eps_;
}

at::Tensor LayerNorm::operator()(const at::Tensor& x) const {
  return at::layer_norm(x, {x.size(-1)}, weight, bias, eps);
}

}  // namespace sdxl::models
