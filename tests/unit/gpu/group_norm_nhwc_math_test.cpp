// The channels-last GroupNorm kernels' per-thread code (host/gpu/group_norm_nhwc_math.h) run on
// the CPU: block by block, thread by thread, each phase finished before the next as the barrier
// guarantees, then compared with libtorch's GroupNorm (+ SiLU) on the same input. The CUDA kernels
// (host/gpu/group_norm_nhwc.cu) are shells around exactly this code, so the test covers their
// indexing and arithmetic on machines without a GPU; on a GPU the wrapper's self-check compares
// the real launch with libtorch before its first use.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <vector>

#include "gpu/group_norm_nhwc_math.h"

using namespace sdxl::gpu;

namespace {

template <class T>
struct CpuLoad {
  void operator()(const T* p, float* f) const {
    for (int j = 0; j < kVectorElements; ++j) f[j] = static_cast<float>(p[j]);
  }
};
template <class T>
struct CpuStore {
  void operator()(const float* f, T* p) const {
    for (int j = 0; j < kVectorElements; ++j) p[j] = static_cast<T>(f[j]);
  }
};
template <class T>
struct CpuParam {
  float operator()(T v) const { return static_cast<float>(v); }
};

// x: [N, C, H, W] of dtype T; runs the three kernels' code over their whole grids.
template <class T>
at::Tensor emulate(const at::Tensor& x_nchw, std::int64_t groups, const at::Tensor& w, const at::Tensor& b, double eps,
                   bool silu) {
  const std::int64_t n = x_nchw.size(0), c = x_nchw.size(1), hw = x_nchw.size(2) * x_nchw.size(3);
  const GroupNormNhwcPlan p = plan_group_norm_nhwc(n, hw, c, groups);
  REQUIRE(p.ok);
  at::Tensor x = x_nchw.contiguous(at::MemoryFormat::ChannelsLast);  // memory: [N, H, W, C]
  at::Tensor y = at::empty_like(x, at::MemoryFormat::ChannelsLast);
  const T* xp = x.data_ptr<T>();
  std::vector<double> partial(static_cast<std::size_t>(n * p.chunks * groups * 2));
  std::vector<float> stats(static_cast<std::size_t>(n * groups * 2));
  for (std::int64_t img = 0; img < n; ++img)
    for (std::int64_t chunk = 0; chunk < p.chunks; ++chunk) {  // moments block (chunk, img)
      std::vector<float> shared(static_cast<std::size_t>(moments_shared_floats(p)), -1.0f);
      for (std::int64_t t = 0; t < p.moment_threads(); ++t) gn_moments_thread(xp, p, img, chunk, t, shared.data(), CpuLoad<T>());
      for (std::int64_t g = 0; g < groups; ++g) gn_moments_group(shared.data(), p, img, chunk, g, partial.data());
    }
  for (std::int64_t img = 0; img < n; ++img)
    for (std::int64_t g = 0; g < groups; ++g) {  // finalize block (g, img)
      std::vector<double> shared(kGnFinalizeThreads * 2, -1.0);
      for (std::int64_t t = 0; t < kGnFinalizeThreads; ++t)
        gn_finalize_thread(partial.data(), p, img, g, t, kGnFinalizeThreads, shared.data());
      gn_finalize_group(shared.data(), kGnFinalizeThreads, p, img, g, eps, stats.data());
    }
  const at::Tensor wc = w.contiguous(), bc = b.contiguous();
  for (std::int64_t i = 0; i < n * hw * p.vectors; ++i)
    gn_apply_vector(xp, wc.data_ptr<T>(), bc.data_ptr<T>(), stats.data(), p, i, silu, y.data_ptr<T>(), CpuLoad<T>(),
                    CpuStore<T>(), CpuParam<T>());
  return y;
}

at::Tensor reference(const at::Tensor& x, std::int64_t groups, const at::Tensor& w, const at::Tensor& b, double eps,
                     bool silu) {
  at::Tensor y = at::group_norm(x.to(at::kDouble).contiguous(), groups, w.to(at::kDouble), b.to(at::kDouble), eps);
  return silu ? at::silu(y) : y;
}

struct Shape {
  std::int64_t n, c, h, w, groups;
};

}  // namespace

TEST_CASE("channels-last GroupNorm kernels' code equals libtorch's GroupNorm, float32") {
  at::manual_seed(7);
  // 2 channels per group (an 8-channel vector spans 4 groups) over three moments blocks, the last
  // one partial; 10 per group (vectors cross group edges); 80 per group with one pixel per row.
  const Shape shape = GENERATE(Shape{2, 64, 25, 44, 32}, Shape{1, 320, 7, 9, 32}, Shape{1, 2560, 3, 5, 32});
  const bool silu = GENERATE(false, true);
  CAPTURE(shape.c, shape.h * shape.w, silu);
  // A large common offset: the variance must not drown in the mean's square.
  at::Tensor x = at::randn({shape.n, shape.c, shape.h, shape.w}) * 1.5 + 40;
  at::Tensor w = at::rand({shape.c}) + 0.5, b = at::randn({shape.c});
  at::Tensor y = emulate<float>(x, shape.groups, w, b, 1e-5, silu);
  CHECK(y.is_contiguous(at::MemoryFormat::ChannelsLast));
  const double diff = (y.to(at::kDouble) - reference(x, shape.groups, w, b, 1e-5, silu)).abs().max().item<double>();
  CAPTURE(diff);
  CHECK(diff < 2e-4);
}

TEST_CASE("channels-last GroupNorm kernels' code in bfloat16 rounds only its output") {
  at::manual_seed(8);
  at::Tensor x = (at::randn({2, 128, 12, 10}) * 2 - 1).to(at::kBFloat16);
  at::Tensor w = (at::rand({128}) + 0.5).to(at::kBFloat16), b = at::randn({128}).to(at::kBFloat16);
  at::Tensor y = emulate<at::BFloat16>(x, 32, w, b, 1e-6, true);
  const at::Tensor ref = reference(x, 32, w, b, 1e-6, true);
  // bfloat16 keeps 8 significant bits: half an ulp of values up to about 4.
  CHECK((y.to(at::kDouble) - ref).abs().max().item<double>() < 2.0 / 128);
  CHECK((y.to(at::kDouble) - ref).abs().mean().item<double>() < 2e-3);
}

TEST_CASE("channels-last GroupNorm plan refuses what the kernels cannot do") {
  CHECK(plan_group_norm_nhwc(1, 16, 64, 32).ok);
  CHECK_FALSE(plan_group_norm_nhwc(1, 16, 12, 3).ok);      // channels not a multiple of 8
  CHECK_FALSE(plan_group_norm_nhwc(1, 16, 64, 48).ok);     // groups do not divide the channels
  CHECK_FALSE(plan_group_norm_nhwc(1, 16, 8200, 8).ok);    // one pixel's vectors exceed a block
  CHECK_FALSE(plan_group_norm_nhwc(0, 16, 64, 32).ok);     // empty batch
  const auto p = plan_group_norm_nhwc(2, 1100, 64, 32);
  CHECK(p.moment_threads() == 256);
  CHECK(p.chunks == 3);  // 512 pixels per block: 512 + 512 + 76
}
