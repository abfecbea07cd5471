#pragma once
// The boundary between residual_layer_norm.cpp (torch side) and residual_layer_norm.cu: plain
// pointers and sizes.
#include "gpu/kernel_dtype.h"
#include "gpu/residual_layer_norm_math.h"

namespace sdxl::gpu {

struct ResidualNormLaunch {
  ResidualNormPlan plan;
  KernelDtype dtype = KernelDtype::f32;
  const void* x = nullptr;         ///< [rows, C] contiguous
  const void* residual = nullptr;  ///< [rows, C] contiguous
  const void* weight = nullptr;    ///< [C]
  const void* bias = nullptr;      ///< [C]
  void* sum = nullptr;             ///< [rows, C]
  void* normed = nullptr;          ///< [rows, C]
  void* stream = nullptr;          ///< cudaStream_t
};

/// Queues the kernel on `stream`. Returns 0 or the cudaError_t of the launch.
int launch_residual_layer_norm(const ResidualNormLaunch& launch);

}  // namespace sdxl::gpu
