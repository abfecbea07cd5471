#pragma once
// The boundary between geglu.cpp (torch side) and geglu.cu: plain pointers and sizes.
#include "gpu/geglu_math.h"
#include "gpu/kernel_dtype.h"

namespace sdxl::gpu {

struct GegluLaunch {
  GegluPlan plan;
  KernelDtype dtype = KernelDtype::f32;
  const void* in = nullptr;  ///< [M, 2D] contiguous
  void* out = nullptr;       ///< [M, D] contiguous
  void* stream = nullptr;    ///< cudaStream_t
};

/// Queues the kernel on `stream`. Returns 0 or the cudaError_t of the launch.
int launch_geglu(const GegluLaunch& launch);

}  // namespace sdxl::gpu
