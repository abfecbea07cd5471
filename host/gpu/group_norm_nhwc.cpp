#include "gpu/group_norm_nhwc.h"

#if defined(SDXL_HAVE_CUDA_KERNELS)
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <string>

#include "gpu/group_norm_nhwc_launch.h"
#include "gpu/kernel_trust.h"
#endif

namespace sdxl::gpu {

#if defined(SDXL_HAVE_CUDA_KERNELS)
namespace {

// The launch for these tensors; plan.ok is false where the kernels do not apply.
GroupNormNhwcLaunch launch_for(const at::Tensor& x, std::int64_t groups, const at::Tensor& weight,
                               const at::Tensor& bias) {
  GroupNormNhwcLaunch l;
  if (!x.defined() || !x.is_cuda() || x.dim() != 4 || !x.is_contiguous(at::MemoryFormat::ChannelsLast)) return l;
  if (!kernel_dtype(x.scalar_type(), l.dtype)) return l;
  for (const at::Tensor* p : {&weight, &bias})
    if (!p->defined() || p->device() != x.device() || p->scalar_type() != x.scalar_type() || !p->is_contiguous() ||
        p->numel() != x.size(1))
      return l;
  // 8 channels per vector access: every pixel's channels start 8-element aligned.
  if (!vector_aligned(x)) return l;
  l.plan = plan_group_norm_nhwc(x.size(0), x.size(2) * x.size(3), x.size(1), groups);
  return l;
}

// Runs the kernels for a launch_for() whose plan is ok; a launch error gives an undefined tensor.
at::Tensor run_kernels(GroupNormNhwcLaunch l, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                       double eps, bool silu, int& cuda_error) {
  c10::cuda::CUDAGuard guard(x.device());
  at::Tensor y = at::empty_like(x, at::MemoryFormat::ChannelsLast);
  at::Tensor partial = at::empty({l.plan.n * l.plan.chunks * l.plan.groups * 2}, x.options().dtype(at::kDouble));
  at::Tensor stats = at::empty({l.plan.n * l.plan.groups * 2}, x.options().dtype(at::kFloat));
  l.x = x.data_ptr();
  l.weight = weight.data_ptr();
  l.bias = bias.data_ptr();
  l.y = y.data_ptr();
  l.partial = partial.data_ptr<double>();
  l.stats = stats.data_ptr<float>();
  l.eps = eps;
  l.silu = silu;
  l.stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
  cuda_error = launch_group_norm_nhwc(l);
  return cuda_error == 0 ? y : at::Tensor();
}

// Compares the kernels with libtorch on two small shapes: 2 channels per group with 8-channel
// vectors spanning groups, and 10 per group over several moments blocks and an odd pixel count.
bool self_check(const at::Tensor& like, std::string& why) {
  at::Generator gen = at::detail::createCPUGenerator(20261127);
  struct Case { std::int64_t n, c, h, w, groups; };
  for (const Case k : {Case{2, 64, 25, 44, 32}, Case{1, 320, 37, 41, 32}}) {
    const auto opts = like.options();
    at::Tensor x = (check_randn({k.n, k.c, k.h, k.w}, gen, like) * 2 + 3).to(opts).contiguous(at::MemoryFormat::ChannelsLast);
    at::Tensor w = (check_randn({k.c}, gen, like).abs() + 0.5).to(opts);
    at::Tensor b = check_randn({k.c}, gen, like).to(opts);
    for (bool silu : {false, true}) {
      const auto launch = launch_for(x, k.groups, w, b);
      if (!launch.plan.ok) return why = "channels-last GroupNorm: the self-check's own input is refused", false;
      int error = 0;
      at::Tensor y = run_kernels(launch, x, w, b, 1e-5, silu, error);
      if (error != 0) return why = launch_failure("channels-last GroupNorm", error), false;
      at::Tensor ref = at::group_norm(x.to(at::kFloat).contiguous(), k.groups, w.to(at::kFloat), b.to(at::kFloat), 1e-5);
      if (silu) ref = at::silu(ref);
      why = compare_with_reference(y, ref, "channels-last GroupNorm kernels against libtorch, C=" + std::to_string(k.c) +
                                               (silu ? " with SiLU" : ""));
      if (!why.empty()) return false;
      if (!y.is_contiguous(at::MemoryFormat::ChannelsLast)) return why = "channels-last GroupNorm: output not NHWC", false;
    }
  }
  return true;
}

KernelTrust trust("group_norm_nhwc");

}  // namespace

at::Tensor group_norm_nhwc(const at::Tensor& x, std::int64_t groups, const at::Tensor& weight, const at::Tensor& bias,
                           double eps, bool silu) {
  const auto launch = launch_for(x, groups, weight, bias);
  if (!launch.plan.ok) return {};
  return trust.run(
      "channels-last GroupNorm", x.scalar_type(), [&](std::string& why) { return self_check(x, why); },
      [&](int& cuda_error) { return run_kernels(launch, x, weight, bias, eps, silu, cuda_error); });
}

#else  // a build without the CUDA kernels

at::Tensor group_norm_nhwc(const at::Tensor&, std::int64_t, const at::Tensor&, const at::Tensor&, double, bool) {
  return {};
}

#endif

}  // namespace sdxl::gpu
