#pragma once
// Matrix products for the networks, routed around a slow BLAS.
//
// Debian's libtorch 1.13 links the generic reference BLAS (BLAS_INFO=generic): its sgemm runs at
// ~1-2 GFLOP/s, so every at::linear / at::bmm on the CPU is 30-40x slower than the oneDNN
// (MKL-DNN) kernels the same build uses for convolutions. On such builds float32 CPU products go
// through at::mkldnn_linear instead; everywhere else (torch 2.x, CUDA, other dtypes, a real BLAS)
// these are plain at::linear / at::bmm. Set SDXL_NO_ONEDNN_MATMUL=1 to force the plain path.

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace sdxl::models {

/// y = x W^T + b.  x: [..., in], w: [out, in], b: [out] or undefined -> [..., out]
at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = {});

/// a b^T per batch item.  a: [B, n, k], b: [B, m, k] -> [B, n, m]
at::Tensor bmm_nt(const at::Tensor& a, const at::Tensor& b);

/// 2-D convolution. libtorch 1.13 sends single-threaded 1x1 convolutions with batch < 16 to its
/// im2col + BLAS path ("THNN is faster single-threaded" - not with the reference BLAS), so on the
/// oneDNN route these call at::mkldnn_convolution directly.  x: [N, C, H, W], w: [O, C, k, k]
at::Tensor conv2d(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, std::int64_t stride,
                  std::int64_t padding);

/// True when the oneDNN route is taken for float32 CPU tensors in this process.
bool onednn_matmul_active();

}  // namespace sdxl::models
