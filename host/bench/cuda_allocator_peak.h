#pragma once
// Peak bytes held by tensors in libtorch's CUDA caching allocator since the last reset — what
// torch.cuda.max_memory_allocated() reports, without the CUDA context or the allocator's cache
// that nvidia-smi counts. Available where the torch headers have the allocator's statistics (the
// configure check SDXL_HAVE_CUDA_ALLOCATOR_STATS, host/gpu/cuda_allocator_stats.cmake, defined for
// the files that include this); elsewhere the functions do nothing and the figures read -1.
// Call them only when CUDA is in use: the reset initialises it.
#ifdef SDXL_HAVE_CUDA_ALLOCATOR_STATS
#include <ATen/ATen.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace sdxl::bench {

/// Returns cached blocks to the driver and restarts the peak (device 0).
inline void reset_cuda_allocator_peak() {
#ifdef SDXL_HAVE_CUDA_ALLOCATOR_STATS
  // The allocator knows no device before CUDA's lazy initialisation, and its statistics calls
  // then throw "Invalid device argument" (every VAE run aborted so on 2026-11-27): one small
  // allocation initialises it.
  (void)at::empty({1}, at::TensorOptions().device(at::kCUDA));
  c10::cuda::CUDACachingAllocator::emptyCache();
  c10::cuda::CUDACachingAllocator::resetPeakStats(0);
#endif
}

/// MiB at the peak since the last reset (device 0, all pools); -1 without the statistics.
inline double cuda_allocator_peak_mib() {
#ifdef SDXL_HAVE_CUDA_ALLOCATOR_STATS
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
  return static_cast<double>(stats.allocated_bytes[0].peak) / 1048576.0;  // [0]: the aggregate over pools
#else
  return -1.0;
#endif
}

/// MiB held by tensors now (device 0, all pools); -1 without the statistics.
inline double cuda_allocator_current_mib() {
#ifdef SDXL_HAVE_CUDA_ALLOCATOR_STATS
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
  return static_cast<double>(stats.allocated_bytes[0].current) / 1048576.0;
#else
  return -1.0;
#endif
}

}  // namespace sdxl::bench
