#pragma once
// A residual add and the LayerNorm after it in one CUDA pass (the kernel: residual_layer_norm.cu,
// its arithmetic: residual_layer_norm_math.h): sum = x + residual is written once and normalised
// from registers, where libtorch writes it and reads it back. The UNet's transformers do this
// twice per block and once between blocks.
//
// Safe by construction (gpu/kernel_trust.h): the first call for each dtype checks the kernel
// against libtorch on small random inputs; a disagreement or launch failure is logged once and
// every later call answers "not applicable", so callers use libtorch. Builds everywhere: without
// nvcc and a CUDA libtorch (SDXL_HAVE_CUDA_KERNELS unset) it is never applicable.
#include <ATen/core/Tensor.h>

namespace sdxl::gpu {

struct ResidualNorm {
  at::Tensor sum;     ///< x + residual
  at::Tensor normed;  ///< layer_norm(sum) over the last dimension, with weight, bias and eps
};

/// Both outputs in one pass; undefined tensors where the kernel does not apply: not CUDA, x and
/// residual not contiguous or not alike (shape, dtype, device), not float32/float16/bfloat16,
/// the last dimension not a multiple of 8 (or above 8192), weight or bias not of that width,
/// dtype and device, a build without the kernels, or a failed self-check.
ResidualNorm residual_layer_norm(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                                 const at::Tensor& bias, double eps);

/// libtorch's form (an add, then at::layer_norm): what every other case computes.
ResidualNorm residual_layer_norm_reference(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                                           const at::Tensor& bias, double eps);

}  // namespace sdxl::gpu
