#include "gpu/residual_layer_norm.h"

#include <ATen/ATen.h>

#if defined(SDXL_HAVE_CUDA_KERNELS)
#include <ATen/CPUGeneratorImpl.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <string>

#include "gpu/kernel_trust.h"
#include "gpu/residual_layer_norm_launch.h"
#endif

namespace sdxl::gpu {

ResidualNorm residual_layer_norm_reference(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                                           const at::Tensor& bias, double eps) {
  at::Tensor sum = x + residual;
  at::Tensor normed = at::layer_norm(sum, {sum.size(-1)}, weight, bias, eps);
  return {std::move(sum), std::move(normed)};
}

#if defined(SDXL_HAVE_CUDA_KERNELS)
namespace {

// The launch for these tensors; plan.ok is false where the kernel does not apply.
ResidualNormLaunch launch_for(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                              const at::Tensor& bias, double eps) {
  ResidualNormLaunch l;
  if (!x.defined() || !x.is_cuda() || x.dim() < 1 || !x.is_contiguous() || !kernel_dtype(x.scalar_type(), l.dtype))
    return l;
  if (!residual.defined() || residual.sizes() != x.sizes() || residual.scalar_type() != x.scalar_type() ||
      residual.device() != x.device() || !residual.is_contiguous())
    return l;
  const std::int64_t c = x.size(-1);
  for (const at::Tensor* p : {&weight, &bias})
    if (!p->defined() || p->device() != x.device() || p->scalar_type() != x.scalar_type() || !p->is_contiguous() ||
        p->dim() != 1 || p->numel() != c || !vector_aligned(*p))
      return l;
  if (!vector_aligned(x) || !vector_aligned(residual)) return l;
  l.plan = plan_residual_layer_norm(x.numel() / c, c, eps);
  return l;
}

// Runs the kernel for a launch_for() whose plan is ok: [2, ...] holding sum then normed (one
// tensor, as KernelTrust::run hands back); a launch error gives an undefined tensor.
at::Tensor run_kernel(ResidualNormLaunch l, const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                      const at::Tensor& bias, int& cuda_error) {
  c10::cuda::CUDAGuard guard(x.device());
  std::vector<std::int64_t> shape{2};
  shape.insert(shape.end(), x.sizes().begin(), x.sizes().end());
  at::Tensor out = at::empty(shape, x.options());
  l.x = x.data_ptr();
  l.residual = residual.data_ptr();
  l.weight = weight.data_ptr();
  l.bias = bias.data_ptr();
  l.sum = out[0].data_ptr();
  l.normed = out[1].data_ptr();
  l.stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
  cuda_error = launch_residual_layer_norm(l);
  return cuda_error == 0 ? out : at::Tensor();
}

// Two widths: SDXL's 640 (80 vectors: a part-filled last warp) and 24 (one warp, mostly idle),
// with an offset mean, so that a variance taken as E[x²] − mean² would show.
bool self_check(const at::Tensor& like, std::string& why) {
  at::Generator gen = at::detail::createCPUGenerator(20261128);
  for (const std::vector<std::int64_t>& shape : {std::vector<std::int64_t>{2, 77, 640}, std::vector<std::int64_t>{5, 24}}) {
    const auto opts = like.options();
    const std::int64_t c = shape.back();
    const at::Tensor x = (check_randn(shape, gen, like) * 3 + 20).to(opts);
    const at::Tensor r = check_randn(shape, gen, like).to(opts);
    const at::Tensor w = (check_randn({c}, gen, like).abs() + 0.5).to(opts);
    const at::Tensor b = check_randn({c}, gen, like).to(opts);
    const auto launch = launch_for(x, r, w, b, 1e-5);
    if (!launch.plan.ok) return why = "residual LayerNorm kernel: the self-check's own input is refused", false;
    int error = 0;
    const at::Tensor out = run_kernel(launch, x, r, w, b, error);
    if (error != 0) return why = launch_failure("residual LayerNorm kernel", error), false;
    // The reference norm reads the sum as libtorch stores it, then computes in float32.
    const at::Tensor sum = x + r;
    const at::Tensor want = at::layer_norm(sum.to(at::kFloat), {c}, w.to(at::kFloat), b.to(at::kFloat), 1e-5);
    why = compare_with_reference(out[0], sum.to(at::kFloat), "residual LayerNorm kernel's sum against libtorch");
    if (why.empty())
      why = compare_with_reference(out[1], want, "residual LayerNorm kernel against libtorch, C=" + std::to_string(c));
    if (!why.empty()) return false;
  }
  return true;
}

KernelTrust trust("residual_layer_norm");

}  // namespace

ResidualNorm residual_layer_norm(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                                 const at::Tensor& bias, double eps) {
  const auto launch = launch_for(x, residual, weight, bias, eps);
  if (!launch.plan.ok) return {};
  const at::Tensor both = trust.run(
      "residual LayerNorm kernel", x.scalar_type(), [&](std::string& why) { return self_check(x, why); },
      [&](int& cuda_error) { return run_kernel(launch, x, residual, weight, bias, cuda_error); });
  if (!both.defined()) return {};
  return {both[0], both[1]};
}

#else  // a build without the CUDA kernels

ResidualNorm residual_layer_norm(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, double) {
  return {};
}

#endif

}  // namespace sdxl::gpu
