#include "models/common/layers.h"

#include <ATen/ATen.h>

#include "models/common/cpu_matmul.h"

namespace sdxl::models {

void Linear::load(WeightReader& r, const std::string& prefix, std::int64_t in, std::int64_t out, bool with_bias) {
  weight = r.take(prefix + ".weight", {out, in});
  if (with_bias) bias = r.take(prefix + ".bias", {out});
}

at::Tensor Linear::operator()(const at::Tensor& x) const { return models::linear(x, weight, bias); }

void Conv2d::load(WeightReader& r, const std::string& prefix, std::int64_t in, std::int64_t out,
                  std::int64_t kernel, std::int64_t stride_, std::int64_t padding_, bool with_bias) {
  weight = r.take(prefix + ".weight", {out, in, kernel, kernel});
  if (with_bias) bias = r.take(prefix + ".bias", {out});
  stride = stride_;
  padding = padding_;
}

at::Tensor Conv2d::operator()(const at::Tensor& x) const {
  return models::conv2d(x, weight, bias, stride, padding);
}

void GroupNorm::load(WeightReader& r, const std::string& prefix, std::int64_t channels, std::int64_t groups_,
                     double eps_) {
  weight = r.take(prefix + ".weight", {channels});
  bias = r.take(prefix + ".bias", {channels});
  groups = groups_;
  eps = eps_;
}

at::Tensor GroupNorm::operator()(const at::Tensor& x) const {
  return at::group_norm(x, groups, weight, bias, eps);
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
