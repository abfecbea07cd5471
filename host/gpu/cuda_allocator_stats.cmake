# sdxl_check_cuda_allocator_stats(VAR): sets VAR when this torch's CUDA caching allocator
# statistics compile and link (host/bench/cuda_allocator_peak.h: what torch.cuda's
# max_memory_allocated reports). Debian's CPU libtorch ships the header without the code: off.
# Used by host/CMakeLists.txt (`sdxl bench`) and bench/gpu/CMakeLists.txt (bench_vae_gpu).
include(CheckCXXSourceCompiles)

function(sdxl_check_cuda_allocator_stats var)
  sdxl_torch_check_begin()  # host/gpu/torch_checks.cmake
  check_cxx_source_compiles("#include <c10/cuda/CUDACachingAllocator.h>
int main() { c10::cuda::CUDACachingAllocator::emptyCache(); c10::cuda::CUDACachingAllocator::resetPeakStats(0);
  const auto& a = c10::cuda::CUDACachingAllocator::getDeviceStats(0).allocated_bytes[0];
  return static_cast<int>(a.peak + a.current); }"
    SDXL_HAVE_CUDA_ALLOCATOR_STATS)
  sdxl_torch_check_end()
  set(${var} ${SDXL_HAVE_CUDA_ALLOCATOR_STATS} PARENT_SCOPE)
endfunction()
