// The CUDA kernel of the residual add + LayerNorm: a shell around residual_layer_norm_math.h
// (which the CPU tests run too) plus the block-wide sums.
#include <cuda_runtime.h>

#include "gpu/residual_layer_norm_launch.h"
#include "gpu/vector_access.cuh"

namespace sdxl::gpu {
namespace {

// The sum of `v` over the block (a whole number of warps), in every thread. `shared` holds one
// float per warp; the leading barrier lets a second call reuse it.
__device__ float block_sum(float v, float* shared) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  __syncthreads();
  if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = v;
  __syncthreads();
  float total = 0.f;
  for (unsigned w = 0; w < blockDim.x / 32; ++w) total += shared[w];  // same order in every thread
  return total;
}

template <class T>
__global__ void residual_layer_norm_kernel(const T* x, const T* residual, const T* weight, const T* bias,
                                           ResidualNormPlan p, T* sum, T* normed) {
  __shared__ float partial[32];
  const std::int64_t row = blockIdx.x, v = threadIdx.x;
  const bool works = v < p.vectors;  // the last warp's spare threads only join the sums
  float s[kVectorElements];
  const float added = works ? rln_add_vector(x, residual, p, row, v, sum, s, LoadVector<T>(), StoreVector<T>(),
                                             RoundVector<T>())
                            : 0.f;
  const float mean = block_sum(added, partial) / static_cast<float>(p.c);
  const float squares = works ? rln_square_vector(s, mean) : 0.f;
  const float var = block_sum(squares, partial) / static_cast<float>(p.c);
  if (works) rln_apply_vector(s, mean, rsqrtf(var + p.eps), weight, bias, p, row, v, normed, LoadVector<T>(), StoreVector<T>());
}

}  // namespace

int launch_residual_layer_norm(const ResidualNormLaunch& l) {
  if (!l.plan.ok || l.plan.rows > 0x7fffffff) return static_cast<int>(cudaErrorInvalidValue);
  return dispatch_dtype(l.dtype, [&](auto zero) {
    using T = decltype(zero);
    residual_layer_norm_kernel<T><<<static_cast<unsigned>(l.plan.rows), l.plan.threads, 0,
                                    static_cast<cudaStream_t>(l.stream)>>>(
        static_cast<const T*>(l.x), static_cast<const T*>(l.residual), static_cast<const T*>(l.weight),
        static_cast<const T*>(l.bias), l.plan, static_cast<T*>(l.sum), static_cast<T*>(l.normed));
    return static_cast<int>(cudaGetLastError());
  });
}

}  // namespace sdxl::gpu
