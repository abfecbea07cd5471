// CUDA kernels of the channels-last GroupNorm (+ SiLU): thin shells around the per-thread
// arithmetic in group_norm_nhwc_math.h, which the CPU tests run as well. Built only where CMake
// finds nvcc and a CUDA libtorch (host/gpu/cuda_kernels.cmake).
#include <cuda_runtime.h>

#include "gpu/group_norm_nhwc_launch.h"
#include "gpu/vector_access.cuh"

namespace sdxl::gpu {
namespace {

template <class T>
__global__ void moments_kernel(const T* x, GroupNormNhwcPlan p, double* partial) {
  extern __shared__ float shared[];
  const std::int64_t chunk = blockIdx.x, n = blockIdx.y;
  gn_moments_thread(x, p, n, chunk, threadIdx.x, shared, LoadVector<T>());
  __syncthreads();
  for (std::int64_t g = threadIdx.x; g < p.groups; g += blockDim.x) gn_moments_group(shared, p, n, chunk, g, partial);
}

__global__ void finalize_kernel(const double* partial, GroupNormNhwcPlan p, double eps, float* stats) {
  __shared__ double shared[kGnFinalizeThreads * 2];
  const std::int64_t g = blockIdx.x, n = blockIdx.y;
  gn_finalize_thread(partial, p, n, g, threadIdx.x, blockDim.x, shared);
  __syncthreads();
  if (threadIdx.x == 0) gn_finalize_group(shared, blockDim.x, p, n, g, eps, stats);
}

template <class T>
__global__ void apply_kernel(const T* x, const T* weight, const T* bias, const float* stats, GroupNormNhwcPlan p,
                             bool silu, T* y) {
  const std::int64_t total = p.total_vectors();
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    gn_apply_vector(x, weight, bias, stats, p, i, silu, y, LoadVector<T>(), StoreVector<T>(), LoadOne<T>());
}

template <class T>
int launch_typed(const GroupNormNhwcLaunch& l) {
  const auto& p = l.plan;
  auto stream = static_cast<cudaStream_t>(l.stream);
  const auto shared_bytes = static_cast<size_t>(moments_shared_floats(p) * sizeof(float));
  if (shared_bytes > 48 * 1024) {
    if (cudaFuncSetAttribute(moments_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(shared_bytes)) != cudaSuccess)
      return static_cast<int>(cudaGetLastError());
  }
  moments_kernel<T><<<dim3(static_cast<unsigned>(p.chunks), static_cast<unsigned>(p.n)),
                      static_cast<unsigned>(p.moment_threads()), shared_bytes, stream>>>(
      static_cast<const T*>(l.x), p, l.partial);
  finalize_kernel<<<dim3(static_cast<unsigned>(p.groups), static_cast<unsigned>(p.n)), kGnFinalizeThreads, 0,
                    stream>>>(l.partial, p, l.eps, l.stats);
  apply_kernel<T><<<grid_stride_blocks(p.total_vectors(), 256), 256, 0, stream>>>(
      static_cast<const T*>(l.x), static_cast<const T*>(l.weight), static_cast<const T*>(l.bias), l.stats, p,
      l.silu, static_cast<T*>(l.y));
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

int launch_group_norm_nhwc(const GroupNormNhwcLaunch& l) {
  if (!l.plan.ok) return static_cast<int>(cudaErrorInvalidValue);
  return dispatch_dtype(l.dtype, [&](auto zero) { return launch_typed<decltype(zero)>(l); });
}

}  // namespace sdxl::gpu
