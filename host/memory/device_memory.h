#pragma once
// Free memory on a CUDA device, for `[memory] gpu = "0.8"` (a fraction of what is free at start).
//
// Why through the CUDA runtime found at run time (dlopen/dlsym of cudaMemGetInfo) instead of
// linking it: the same sources build against Debian's CPU-only libtorch, where there is no CUDA
// at all, and against the torch wheel on the GPU machine, whose libtorch_cuda has already loaded
// libcudart. No CUDA headers are needed either way.

#include <cstdint>

namespace sdxl::memory {

/// Bytes free on CUDA device `index` now (cudaMemGetInfo); 0 when there is no CUDA runtime or
/// device on this machine.
std::uint64_t available_gpu_memory(int index = 0);

/// Bytes in use on CUDA device `index` now, by every process (total − free: what nvidia-smi
/// shows, CUDA context included); 0 without a CUDA runtime or device.
std::uint64_t used_gpu_memory(int index = 0);

}  // namespace sdxl::memory
