#pragma once
// The SDXL transformer's GEGLU in one CUDA pass (the kernel: geglu.cu, its arithmetic:
// geglu_math.h): value · gelu(gate) of the feed-forward projection, without libtorch's gelu
// temporary. Self-checked against libtorch before its first use per dtype (gpu/kernel_trust.h).
#include <ATen/core/Tensor.h>

namespace sdxl::gpu {

/// `projected` [..., 2D] (value columns first, then the gate) -> [..., D]. Returns an undefined
/// tensor where the kernel does not apply: not CUDA, not contiguous, not float32/float16/
/// bfloat16, D not a multiple of 8, a build without the kernels, or a failed self-check. Then
/// use libtorch (geglu_reference).
at::Tensor geglu(const at::Tensor& projected);

/// libtorch's form, the fallback and the self-check's reference: chunk, exact gelu, product.
at::Tensor geglu_reference(const at::Tensor& projected);

}  // namespace sdxl::gpu
