// The residual add + LayerNorm kernel's per-thread code (host/gpu/residual_layer_norm_math.h) run
// on the CPU block by block and thread by thread, its block sums added in thread order, and
// compared with libtorch's form (gpu::residual_layer_norm_reference: an add, then LayerNorm),
// which is what every CPU build computes. The CUDA kernel (host/gpu/residual_layer_norm.cu) is a
// shell around this code; on a GPU the wrapper's self-check compares the real launch before use.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "gpu/residual_layer_norm.h"
#include "gpu/residual_layer_norm_math.h"

using namespace sdxl::gpu;

namespace {

template <class T>
ResidualNorm emulate(const at::Tensor& x, const at::Tensor& r, const at::Tensor& w, const at::Tensor& b, double eps) {
  const std::int64_t c = x.size(-1);
  const ResidualNormPlan p = plan_residual_layer_norm(x.numel() / c, c, eps);
  REQUIRE(p.ok);
  ResidualNorm out{at::empty_like(x), at::empty_like(x)};
  auto load = [](const T* src, float* f) {
    for (int j = 0; j < kVectorElements; ++j) f[j] = static_cast<float>(src[j]);
  };
  auto store = [](const float* f, T* dst) {
    for (int j = 0; j < kVectorElements; ++j) dst[j] = static_cast<T>(f[j]);
  };
  auto round = [](float* f) {
    for (int j = 0; j < kVectorElements; ++j) f[j] = static_cast<float>(static_cast<T>(f[j]));
  };
  std::vector<float> s(p.vectors * kVectorElements);
  for (std::int64_t row = 0; row < p.rows; ++row) {  // one block
    float total = 0.f;
    for (std::int64_t v = 0; v < p.vectors; ++v)
      total += rln_add_vector(x.data_ptr<T>(), r.data_ptr<T>(), p, row, v, out.sum.data_ptr<T>(),
                              &s[v * kVectorElements], load, store, round);
    const float mean = total / static_cast<float>(c);
    float squares = 0.f;
    for (std::int64_t v = 0; v < p.vectors; ++v) squares += rln_square_vector(&s[v * kVectorElements], mean);
    const float rstd = 1.f / std::sqrt(squares / static_cast<float>(c) + p.eps);
    for (std::int64_t v = 0; v < p.vectors; ++v)
      rln_apply_vector(&s[v * kVectorElements], mean, rstd, w.data_ptr<T>(), b.data_ptr<T>(), p, row, v,
                       out.normed.data_ptr<T>(), load, store);
  }
  return out;
}

double max_abs(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kFloat) - b.to(at::kFloat)).abs().max().item<double>();
}

}  // namespace

TEST_CASE("residual LayerNorm kernel's code equals an add then libtorch's LayerNorm, float32") {
  at::manual_seed(7);
  // [batch, tokens, C]: C = 40 (5 vectors), an offset mean that E[x²] − mean² would lose digits to.
  const at::Tensor x = at::randn({2, 9, 40}) * 3 + 50, r = at::randn({2, 9, 40});
  const at::Tensor w = at::rand({40}) + 0.5, b = at::randn({40});
  const auto got = emulate<float>(x, r, w, b, 1e-5);
  const auto want = residual_layer_norm_reference(x, r, w, b, 1e-5);
  CHECK(at::equal(got.sum, want.sum));
  CHECK(max_abs(got.normed, want.normed) < 2e-5);
  // Weight and bias act per channel: reversing the bias changes the answer.
  const auto flipped = emulate<float>(x, r, w, b.flip(0), 1e-5);
  CHECK(max_abs(flipped.normed, want.normed) > 0.1);
  // eps is used: a huge one flattens the output towards the bias.
  CHECK(max_abs(emulate<float>(x, r, w, b, 1e6).normed, b.expand_as(x)) < 0.05);
}

TEST_CASE("residual LayerNorm kernel's code in 16-bit: the norm reads the sum as stored") {
  at::manual_seed(8);
  for (const auto dtype : {at::kBFloat16, at::kHalf}) {
    const at::Tensor x = (at::randn({64, 24}) * 3 + 20).to(dtype), r = at::randn({64, 24}).to(dtype);
    const at::Tensor w = (at::rand({24}) + 0.5).to(dtype), b = at::randn({24}).to(dtype);
    const auto got = dtype == at::kHalf ? emulate<at::Half>(x, r, w, b, 1e-5) : emulate<at::BFloat16>(x, r, w, b, 1e-5);
    // The sum rounds once, as libtorch's add does: the same bits.
    CHECK(at::equal(got.sum, x + r));
    // The norm from that stored sum in float arithmetic, rounded once at the output: within half
    // a unit in the last place (relative 2^-8 for bfloat16, 2^-11 for float16) plus float noise.
    const at::Tensor want = at::layer_norm((x + r).to(at::kFloat), {24}, w.to(at::kFloat), b.to(at::kFloat), 1e-5);
    const double ulp = dtype == at::kHalf ? 1.0 / 2048 : 1.0 / 256;
    CHECK(((got.normed.to(at::kFloat) - want).abs() <= want.abs() * ulp + 1e-4).all().item<bool>());
  }
}

TEST_CASE("residual LayerNorm plan: whole warps, widths the vector accesses take") {
  const auto p = plan_residual_layer_norm(4, 640, 1e-5);
  CHECK(p.ok);
  CHECK(p.vectors == 80);
  CHECK(p.threads == 96);
  CHECK(plan_residual_layer_norm(4, 1280, 1e-5).threads == 160);
  CHECK(plan_residual_layer_norm(1, 8192, 1e-5).ok);
  CHECK_FALSE(plan_residual_layer_norm(1, 8200, 1e-5).ok);  // more than 1024 threads a block
  CHECK_FALSE(plan_residual_layer_norm(4, 20, 1e-5).ok);
  CHECK_FALSE(plan_residual_layer_norm(0, 640, 1e-5).ok);
}

TEST_CASE("residual LayerNorm off CUDA: never applicable, the reference is an add then LayerNorm") {
  const at::Tensor x = at::randn({3, 16}), r = at::randn({3, 16}), w = at::ones({16}), b = at::zeros({16});
  const auto none = residual_layer_norm(x, r, w, b, 1e-5);  // CPU tensors
  CHECK_FALSE(none.sum.defined());
  CHECK_FALSE(none.normed.defined());
  const auto ref = residual_layer_norm_reference(x, r, w, b, 1e-5);
  CHECK(at::equal(ref.sum, x + r));
  CHECK(at::allclose(ref.normed, at::layer_norm(x + r, {16}, w, b, 1e-5)));
}
