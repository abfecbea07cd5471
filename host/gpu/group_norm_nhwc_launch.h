#pragma once
// The boundary between the torch side (group_norm_nhwc.cpp) and the CUDA kernels
// (group_norm_nhwc.cu): plain pointers and sizes, so the .cu needs neither libtorch nor its
// headers and nvcc compiles it in seconds.
#include <cstdint>

#include "gpu/group_norm_nhwc_math.h"
#include "gpu/kernel_dtype.h"

namespace sdxl::gpu {

struct GroupNormNhwcLaunch {
  GroupNormNhwcPlan plan;
  KernelDtype dtype = KernelDtype::f32;
  const void* x = nullptr;       ///< [N, H, W, C] contiguous (a channels-last [N, C, H, W])
  const void* weight = nullptr;  ///< [C], same dtype
  const void* bias = nullptr;    ///< [C], same dtype
  void* y = nullptr;             ///< like x
  double* partial = nullptr;     ///< N * chunks * G * 2 doubles of scratch
  float* stats = nullptr;        ///< N * G * 2 floats of scratch (mean, rstd)
  double eps = 1e-5;
  bool silu = false;
  void* stream = nullptr;        ///< cudaStream_t
};

/// Queues the three kernels on `stream`. Returns 0 or the cudaError_t of the failed launch.
int launch_group_norm_nhwc(const GroupNormNhwcLaunch& launch);

}  // namespace sdxl::gpu
