#pragma once
// SDXL_HD marks the functions shared by our CUDA kernels and their CPU tests: __host__
// __device__ under nvcc, nothing under a host compiler.
#if defined(__CUDACC__)
#define SDXL_HD __host__ __device__
#else
#define SDXL_HD
#endif
