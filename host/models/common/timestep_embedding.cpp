#include "models/common/timestep_embedding.h"

#include <ATen/ATen.h>

#include <cmath>

namespace sdxl::models {

at::Tensor sinusoidal_embedding(const at::Tensor& t, std::int64_t dim, bool flip_sin_to_cos, double freq_shift) {
  const std::int64_t half = dim / 2;
  auto f32 = t.options().dtype(at::kFloat);
  // Same operation order as the reference so the float32 rounding matches.
  at::Tensor exponent = at::arange(0, half, f32).mul(-std::log(10000.0)).div(static_cast<double>(half) - freq_shift);
  at::Tensor freqs = at::exp(exponent);                                     // [half]
  at::Tensor args = t.to(at::kFloat).reshape({-1, 1}) * freqs.unsqueeze(0);  // [N, half]
  at::Tensor sin = at::sin(args), cos = at::cos(args);
  at::Tensor emb = flip_sin_to_cos ? at::cat({cos, sin}, -1) : at::cat({sin, cos}, -1);
  if (dim % 2 == 1) emb = at::constant_pad_nd(emb, {0, 1});
  return emb;
}

void TimestepEmbedding::load(WeightReader& r, const std::string& prefix, std::int64_t in, std::int64_t out) {
  linear_1.load(r, prefix + ".linear_1", in, out);
  linear_2.load(r, prefix + ".linear_2", out, out);
}

at::Tensor TimestepEmbedding::operator()(const at::Tensor& x) const { return linear_2(at::silu(linear_1(x))); }

}  // namespace sdxl::models
