#include "gpu/geglu.h"

#include <ATen/ATen.h>

#if defined(SDXL_HAVE_CUDA_KERNELS)
#include <ATen/CPUGeneratorImpl.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <string>

#include "gpu/geglu_launch.h"
#include "gpu/kernel_trust.h"
#endif

namespace sdxl::gpu {

at::Tensor geglu_reference(const at::Tensor& projected) {
  auto parts = projected.chunk(2, -1);
  return parts[0] * at::gelu(parts[1]);
}

#if defined(SDXL_HAVE_CUDA_KERNELS)
namespace {

// The launch for `x`; plan.ok is false where the kernel does not apply.
GegluLaunch launch_for(const at::Tensor& x) {
  GegluLaunch l;
  if (!x.defined() || !x.is_cuda() || x.dim() < 1 || !x.is_contiguous() || !kernel_dtype(x.scalar_type(), l.dtype))
    return l;
  if (!vector_aligned(x) || x.size(-1) % 2 != 0) return l;
  l.plan = plan_geglu(x.numel() / x.size(-1), x.size(-1) / 2);
  return l;
}

// Runs the kernel for a launch_for() whose plan is ok; a launch error gives an undefined tensor.
at::Tensor run_kernel(GegluLaunch l, const at::Tensor& x, int& cuda_error) {
  c10::cuda::CUDAGuard guard(x.device());
  std::vector<std::int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() /= 2;
  at::Tensor out = at::empty(shape, x.options());
  l.in = x.data_ptr();
  l.out = out.data_ptr();
  l.stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
  cuda_error = launch_geglu(l);
  return cuda_error == 0 ? out : at::Tensor();
}

// Two shapes: SDXL's widths are multiples of 640; 24 columns keep several vectors per row.
bool self_check(const at::Tensor& like, std::string& why) {
  at::Generator gen = at::detail::createCPUGenerator(20261128);
  for (const std::vector<std::int64_t>& shape : {std::vector<std::int64_t>{2, 77, 48}, std::vector<std::int64_t>{3, 1280}}) {
    at::Tensor x = (check_randn(shape, gen, like) * 2).to(like.options());
    const auto launch = launch_for(x);
    if (!launch.plan.ok) return why = "GEGLU kernel: the self-check's own input is refused", false;
    int error = 0;
    at::Tensor y = run_kernel(launch, x, error);
    if (error != 0) return why = launch_failure("GEGLU kernel", error), false;
    why = compare_with_reference(y, geglu_reference(x.to(at::kFloat)), "GEGLU kernel against libtorch");
    if (!why.empty()) return false;
  }
  return true;
}

KernelTrust trust("geglu");

}  // namespace

at::Tensor geglu(const at::Tensor& projected) {
  const auto launch = launch_for(projected);
  if (!launch.plan.ok) return {};
  return trust.run(
      "GEGLU kernel", projected.scalar_type(), [&](std::string& why) { return self_check(projected, why); },
      [&](int& cuda_error) { return run_kernel(launch, projected, cuda_error); });
}

#else  // a build without the CUDA kernels

at::Tensor geglu(const at::Tensor&) { return {}; }

#endif

}  // namespace sdxl::gpu
