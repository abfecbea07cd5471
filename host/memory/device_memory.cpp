#include "memory/device_memory.h"

#include <dlfcn.h>

#include <cstddef>

namespace sdxl::memory {
namespace {

using MemGetInfo = int (*)(std::size_t* free, std::size_t* total);  // cudaError_t is an int enum
using SetDevice = int (*)(int device);

void* cuda_runtime() {
  // Already loaded by a CUDA build of libtorch (RTLD_NOLOAD), else whichever the loader finds.
  static const char* const kNames[] = {"libcudart.so.12", "libcudart.so.11.0", "libcudart.so"};
  for (int flags : {RTLD_LAZY | RTLD_NOLOAD, RTLD_LAZY})
    for (const char* name : kNames)
      if (void* h = dlopen(name, flags)) return h;
  return nullptr;
}

bool memory_info(int index, std::size_t& free_bytes, std::size_t& total_bytes) {
  void* rt = cuda_runtime();
  if (!rt) return false;
  auto set_device = reinterpret_cast<SetDevice>(dlsym(rt, "cudaSetDevice"));
  auto mem_get_info = reinterpret_cast<MemGetInfo>(dlsym(rt, "cudaMemGetInfo"));
  return set_device && mem_get_info && set_device(index) == 0 && mem_get_info(&free_bytes, &total_bytes) == 0;
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
