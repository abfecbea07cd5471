#include "memory/device_memory.h"

#include <dlfcn.h>

#include <cstddef>
#include <initializer_list>

namespace sdxl::memory {
namespace {

using MemGetInfo = int (*)(std::size_t* free, std::size_t* total);  // cudaError_t is an int enum
using SetDevice = int (*)(int device);

// The two runtime functions, looked up once (the GPU memory sampler of `sdxl bench` asks every
// 10 ms). Both null when there is no CUDA runtime.
struct CudaRuntime {
  SetDevice set_device = nullptr;
  MemGetInfo mem_get_info = nullptr;
};

const CudaRuntime& cuda_runtime() {
  static const CudaRuntime rt = [] {
    // Already loaded by a CUDA build of libtorch (RTLD_NOLOAD), else whichever the loader finds.
    // The torch 2.11 cu130 wheel loads libcudart.so.13 and ships no unversioned link.
    static const char* const kNames[] = {"libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so"};
    for (int flags : {RTLD_LAZY | RTLD_NOLOAD, RTLD_LAZY})
      for (const char* name : kNames)
        if (void* h = dlopen(name, flags))  // kept open for the process's lifetime
          return CudaRuntime{reinterpret_cast<SetDevice>(dlsym(h, "cudaSetDevice")),
                             reinterpret_cast<MemGetInfo>(dlsym(h, "cudaMemGetInfo"))};
    return CudaRuntime{};
  }();
  return rt;
}

bool memory_info(int index, std::size_t& free_bytes, std::size_t& total_bytes) {
  const CudaRuntime& rt = cuda_runtime();
  return rt.set_device && rt.mem_get_info && rt.set_device(index) == 0 && rt.mem_get_info(&free_bytes, &total_bytes) == 0;
}

}  // namespace

std::uint64_t available_gpu_memory(int index) {
  std::size_t free_bytes = 0, total_bytes = 0;
  return memory_info(index, free_bytes, total_bytes) ? free_bytes : 0;
}

std::uint64_t used_gpu_memory(int index) {
  std::size_t free_bytes = 0, total_bytes = 0;
  return memory_info(index, free_bytes, total_bytes) ? total_bytes - free_bytes : 0;
}

}  // namespace sdxl::memory
