// The CUDA kernel of the fused GEGLU: a shell around geglu_math.h, which the CPU tests run too.
#include <cuda_runtime.h>

#include "gpu/geglu_launch.h"
#include "gpu/vector_access.cuh"

namespace sdxl::gpu {
namespace {

template <class T>
__global__ void geglu_kernel(const T* in, GegluPlan p, T* out) {
  const std::int64_t total = p.vectors();
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    geglu_vector(in, p, i, out, LoadVector<T>(), StoreVector<T>());
}

}  // namespace

int launch_geglu(const GegluLaunch& l) {
  if (!l.plan.ok) return static_cast<int>(cudaErrorInvalidValue);
  return dispatch_dtype(l.dtype, [&](auto zero) {
    using T = decltype(zero);
    geglu_kernel<T><<<grid_stride_blocks(l.plan.vectors(), 256), 256, 0, static_cast<cudaStream_t>(l.stream)>>>(static_cast<const T*>(l.in), l.plan, static_cast<T*>(l.out));
    return static_cast<int>(cudaGetLastError());
  });
}

}  // namespace sdxl::gpu
