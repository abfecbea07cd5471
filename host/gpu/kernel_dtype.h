#pragma once
// The element types our CUDA kernels take, named without libtorch or CUDA headers so that both
// the kernels (.cu) and their torch-side wrappers can share launch structs.

namespace sdxl::gpu {

enum class KernelDtype { f32, f16, bf16 };

}  // namespace sdxl::gpu
