// Multi-head attention against a per-head formulation written out directly
// (softmax(Q_h K_h^T / sqrt(d)) V_h on channel slices), chunked and unchunked.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <cmath>

#include "models/common/attention.h"
#include "models/common/cpu_matmul.h"

using namespace sdxl;

namespace {

at::Tensor reference_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, std::int64_t heads) {
  const auto d = q.size(2) / heads;
  std::vector<at::Tensor> per_head;
  for (std::int64_t h = 0; h < heads; ++h) {
    auto qh = q.narrow(2, h * d, d).to(at::kDouble), kh = k.narrow(2, h * d, d).to(at::kDouble);
    auto vh = v.narrow(2, h * d, d).to(at::kDouble);
    auto w = at::softmax(at::matmul(qh, kh.transpose(1, 2)) / std::sqrt(double(d)), -1);
    per_head.push_back(at::matmul(w, vh));
  }
  return at::cat(per_head, 2).to(at::kFloat);
}

}  // namespace

TEST_CASE("attention: explicit path (chunked or not) and the default path match the formula", "[unet]") {
  at::manual_seed(3);
  const std::int64_t b = 3, nq = 20, nk = 7, c = 24, heads = 4;
  auto q = at::randn({b, nq, c}), k = at::randn({b, nk, c}), v = at::randn({b, nk, c});
  auto want = reference_attention(q, k, v, heads);
  CHECK(at::allclose(models::multi_head_attention(q, k, v, heads), want, 1e-5, 1e-5));
  CHECK(at::allclose(models::multi_head_attention_explicit(q, k, v, heads, 1ll << 30), want, 1e-5, 1e-5));
  // One (batch, head) pair per chunk, and chunks that do not divide batch x heads evenly.
  CHECK(at::allclose(models::multi_head_attention_explicit(q, k, v, heads, 1), want, 1e-5, 1e-5));
  CHECK(at::allclose(models::multi_head_attention_explicit(q, k, v, heads, 5 * nq * nk), want, 1e-5, 1e-5));
}

TEST_CASE("matmul helpers: linear and bmm_nt agree with float64 products", "[unet]") {
  at::manual_seed(5);
  auto x = at::randn({2, 3, 17}), w = at::randn({9, 17}), b = at::randn({9});
  auto want = (at::matmul(x.to(at::kDouble), w.to(at::kDouble).t()) + b.to(at::kDouble)).to(at::kFloat);
  CHECK(at::allclose(models::linear(x, w, b), want, 1e-5, 1e-5));
  CHECK(at::allclose(models::linear(x, w), want - b, 1e-5, 1e-5));
  // A transposed (non-contiguous) weight view, as the single-file text_projection is.
  auto wt = w.t().contiguous().t();
  CHECK(at::allclose(models::linear(x, wt, b), want, 1e-5, 1e-5));
  auto a = at::randn({4, 6, 5}), c = at::randn({4, 7, 5});
  auto prod = at::bmm(a.to(at::kDouble), c.to(at::kDouble).transpose(1, 2)).to(at::kFloat);
  CHECK(at::allclose(models::bmm_nt(a, c), prod, 1e-5, 1e-5));
  CHECK(models::bmm_nt(a, c).sizes() == at::IntArrayRef({4, 6, 7}));
  auto img = at::randn({2, 6, 5, 4}), k1 = at::randn({3, 6, 1, 1}), kb = at::randn({3});
  CHECK(at::allclose(models::conv2d(img, k1, kb, 1, 0),
                     at::conv2d(img.to(at::kDouble), k1.to(at::kDouble), kb.to(at::kDouble)).to(at::kFloat), 1e-5, 1e-5));
  WARN("oneDNN matmul route active: " << models::onednn_matmul_active());
}
