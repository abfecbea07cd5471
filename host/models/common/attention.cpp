#include "models/common/attention.h"

#include <ATen/ATen.h>
#include <torch/csrc/api/include/torch/version.h>

#include "models/common/cpu_matmul.h"

#include <algorithm>
#include <cmath>

namespace sdxl::models {
namespace {

// Upper bound for one chunk's score matrix in elements (64 M floats = 256 MB in float32): a
// 1024x1024 SDXL image has 4096 tokens at level 1, 10 heads, batch 2 -> 335 M scores unchunked.
constexpr std::int64_t kMaxScoreElements = 64ll * 1024 * 1024;

// q/k/v: [BH, N, d] -> [BH, Nq, d]
at::Tensor explicit_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                              std::int64_t max_score_elements) {
  const std::int64_t bh = q.size(0), nq = q.size(1), nk = k.size(1);
  const std::int64_t per_row = std::max<std::int64_t>(1, nq * nk);
  const std::int64_t rows = std::max<std::int64_t>(1, max_score_elements / per_row);
  const at::Tensor vt = v.transpose(1, 2).contiguous();  // [BH, d, Nk]: p v = p (v^T)^T
  if (rows >= bh) {
    at::Tensor scores = bmm_nt(q, k).mul_(scale);  // [BH, Nq, Nk]
    return bmm_nt(at::softmax(scores, -1), vt);
  }
  at::Tensor out = at::empty({bh, nq, v.size(2)}, q.options());
  for (std::int64_t s = 0; s < bh; s += rows) {
    const std::int64_t n = std::min(rows, bh - s);
    at::Tensor scores = bmm_nt(q.narrow(0, s, n), k.narrow(0, s, n)).mul_(scale);
    out.narrow(0, s, n).copy_(bmm_nt(at::softmax(scores, -1), vt.narrow(0, s, n)));
  }
  return out;
}

}  // namespace

at::Tensor multi_head_attention_explicit(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                         std::int64_t heads, std::int64_t max_score_elements) {
  const std::int64_t b = q.size(0), nq = q.size(1), nk = k.size(1), c = q.size(2);
  const std::int64_t d = c / heads;
  // [B, N, C] -> [B * heads, N, d]
  auto split = [&](const at::Tensor& x, std::int64_t n) {
    return x.reshape({b, n, heads, d}).transpose(1, 2).reshape({b * heads, n, d});
  };
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  at::Tensor out = explicit_attention(split(q, nq), split(k, nk), split(v, nk), scale, max_score_elements);
  return out.reshape({b, heads, nq, d}).transpose(1, 2).reshape({b, nq, c});
}

at::Tensor multi_head_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, std::int64_t heads) {
#if TORCH_VERSION_MAJOR >= 2
  const std::int64_t b = q.size(0), nq = q.size(1), nk = k.size(1), c = q.size(2);
  const std::int64_t d = c / heads;
  // [B, N, C] -> [B, heads, N, d]; default scale 1/sqrt(d)
  auto split = [&](const at::Tensor& x, std::int64_t n) { return x.reshape({b, n, heads, d}).transpose(1, 2); };
  at::Tensor out = at::scaled_dot_product_attention(split(q, nq), split(k, nk), split(v, nk));
  return out.transpose(1, 2).reshape({b, nq, c});
#else
  return multi_head_attention_explicit(q, k, v, heads, kMaxScoreElements);
#endif
}

}  // namespace sdxl::models
