#pragma once
// Loads and stores of 8 consecutive elements as one access (16 bytes for the 16-bit types, two
// 16-byte accesses for float), converted to and from float, shared by our CUDA kernels. The
// functors are what the kernels' shared per-thread code (the *_math.h headers) calls; the CPU
// tests pass plain ones instead.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "gpu/kernel_dtype.h"

namespace sdxl::gpu {

template <class T>
struct alignas(sizeof(T) * kVectorElements) Vec {
  T v[kVectorElements];
};

__host__ __device__ inline float to_f(float v) { return v; }
__host__ __device__ inline float to_f(__half v) { return __half2float(v); }
__host__ __device__ inline float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class T>
__host__ __device__ inline T from_f(float v);
template <>
__host__ __device__ inline float from_f<float>(float v) { return v; }
template <>
__host__ __device__ inline __half from_f<__half>(float v) { return __float2half_rn(v); }
template <>
__host__ __device__ inline __nv_bfloat16 from_f<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <class T>
struct LoadVector {
  __host__ __device__ void operator()(const T* p, float* f) const {
    const Vec<T> vec = *reinterpret_cast<const Vec<T>*>(p);
#pragma unroll
    for (int j = 0; j < kVectorElements; ++j) f[j] = to_f(vec.v[j]);
  }
};
template <class T>
struct StoreVector {
  __host__ __device__ void operator()(const float* f, T* p) const {
    Vec<T> vec;
#pragma unroll
    for (int j = 0; j < kVectorElements; ++j) vec.v[j] = from_f<T>(f[j]);
    *reinterpret_cast<Vec<T>*>(p) = vec;
  }
};
/// Rounds 8 float values to what T holds (the values a store then a load would give).
template <class T>
struct RoundVector {
  __host__ __device__ void operator()(float* f) const {
#pragma unroll
    for (int j = 0; j < kVectorElements; ++j) f[j] = to_f(from_f<T>(f[j]));
  }
};
template <class T>
struct LoadOne {
  __host__ __device__ float operator()(T v) const { return to_f(v); }
};

/// Blocks of `threads` for a grid-stride loop over `total` items: enough to cover them, capped
/// where more blocks only add scheduling.
inline unsigned grid_stride_blocks(std::int64_t total, int threads) {
  const std::int64_t blocks = (total + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 65535 * 8 ? blocks : 65535 * 8);
}

/// Calls f<T>() for the element type `d` names; 0 or a cudaError_t.
template <class F>
int dispatch_dtype(KernelDtype d, F&& f) {
  switch (d) {
    case KernelDtype::f32: return f(float{});
    case KernelDtype::f16: return f(__half{});
    case KernelDtype::bf16: return f(__nv_bfloat16{});
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

}  // namespace sdxl::gpu
