// The fused GEGLU kernel's per-thread code (host/gpu/geglu_math.h) run on the CPU over the whole
// grid and compared with libtorch's form (gpu::geglu_reference: chunk, exact gelu, product),
// which is also what every CPU build computes. The CUDA kernel (host/gpu/geglu.cu) is a shell
// around this code; on a GPU the wrapper's self-check compares the real launch before first use.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "gpu/geglu.h"
#include "gpu/geglu_math.h"

using namespace sdxl::gpu;

namespace {

template <class T>
at::Tensor emulate(const at::Tensor& projected) {
  const std::int64_t d = projected.size(-1) / 2, rows = projected.numel() / projected.size(-1);
  const GegluPlan p = plan_geglu(rows, d);
  REQUIRE(p.ok);
  const at::Tensor in = projected.contiguous();
  std::vector<std::int64_t> shape(in.sizes().begin(), in.sizes().end());
  shape.back() = d;
  at::Tensor out = at::empty(shape, in.options());
  auto load = [](const T* src, float* f) {
    for (int j = 0; j < kVectorElements; ++j) f[j] = static_cast<float>(src[j]);
  };
  auto store = [](const float* f, T* dst) {
    for (int j = 0; j < kVectorElements; ++j) dst[j] = static_cast<T>(f[j]);
  };
  for (std::int64_t i = 0; i < p.vectors(); ++i) geglu_vector(in.data_ptr<T>(), p, i, out.data_ptr<T>(), load, store);
  return out;
}

}  // namespace

TEST_CASE("GEGLU kernel's code equals libtorch's value * gelu(gate), float32") {
  at::manual_seed(3);
  // SDXL's shapes in miniature: [batch, tokens, 2D] with D a multiple of 8 but not of 64.
  const at::Tensor x = at::randn({2, 5, 2 * 40}) * 3;
  const at::Tensor got = emulate<float>(x), want = geglu_reference(x);
  CHECK(got.sizes() == want.sizes());
  CHECK((got - want).abs().max().item<double>() < 1e-5);
  // The halves are not interchangeable: swapping value and gate changes the answer.
  const at::Tensor swapped = at::cat({x.narrow(-1, 40, 40), x.narrow(-1, 0, 40)}, -1);
  CHECK((emulate<float>(swapped) - want).abs().max().item<double>() > 0.1);
}

TEST_CASE("GEGLU kernel's code in bfloat16 rounds once, at the output") {
  at::manual_seed(4);
  const at::Tensor x = (at::randn({64, 2 * 16}) * 2).to(at::kBFloat16);
  const at::Tensor want = geglu_reference(x.to(at::kFloat));  // exact inputs, float arithmetic
  const at::Tensor got = emulate<at::BFloat16>(x).to(at::kFloat);
  // Half a bfloat16 ulp of the output, relative (8 significant bits), plus float rounding.
  CHECK(((got - want).abs() <= want.abs() * (1.0 / 256) + 1e-6).all().item<bool>());
}

TEST_CASE("GEGLU plan refuses widths the vector accesses cannot take") {
  CHECK(plan_geglu(4, 640).ok);
  CHECK_FALSE(plan_geglu(4, 12).ok);
  CHECK_FALSE(plan_geglu(0, 640).ok);
  CHECK(plan_geglu(3, 16).vectors() == 6);
}
