#pragma once
// GroupNorm (+ SiLU) that keeps a channels-last CUDA tensor channels-last (the kernels:
// group_norm_nhwc.cu, their arithmetic: group_norm_nhwc_math.h). The lever that lets a UNet or
// VAE run its convolutions channels-last without a layout conversion around every norm.
//
// Safe by construction (gpu/kernel_trust.h): the first call for each dtype runs the kernels on
// small random inputs against libtorch's GroupNorm; if they disagree or fail to launch, the
// reason goes to the kernel log once and every later call answers "not applicable", so callers
// fall back to libtorch. Builds everywhere: without nvcc and a CUDA libtorch (SDXL_HAVE_CUDA_KERNELS
// unset) it is never applicable.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace sdxl::gpu {

/// GroupNorm of `x` [N, C, H, W] (and SiLU after it when `silu`), channels-last in and out.
/// Returns an undefined tensor where the kernels do not apply: not CUDA, not channels-last
/// contiguous, not float32/float16/bfloat16, C not a multiple of 8 or of `groups`, parameters
/// of another dtype or device, a build without the kernels, or a failed self-check.
at::Tensor group_norm_nhwc(const at::Tensor& x, std::int64_t groups, const at::Tensor& weight, const at::Tensor& bias,
                           double eps, bool silu);

}  // namespace sdxl::gpu
