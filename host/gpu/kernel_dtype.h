#pragma once
// The element types our CUDA kernels take and their access width, named without libtorch or
// CUDA headers so that the kernels (.cu), their per-thread code (*_math.h) and their torch-side
// wrappers share them.

namespace sdxl::gpu {

enum class KernelDtype { f32, f16, bf16 };

/// Elements per vector access (16 bytes of a 16-bit type): channels or columns a thread handles.
constexpr int kVectorElements = 8;

}  // namespace sdxl::gpu
