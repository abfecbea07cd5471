#include "gpu/side_stream.h"

#if defined(SDXL_HAVE_CUDA_GRAPH)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace sdxl::gpu {

struct SideStreamScope::State {
#if defined(SDXL_HAVE_CUDA_GRAPH)
  explicit State(c10::cuda::CUDAStream stream) : guard(stream) {}
  c10::cuda::CUDAStreamGuard guard;  // restores the thread's previous stream on destruction
#endif
};

SideStreamScope::SideStreamScope(c10::Device device) {
#if defined(SDXL_HAVE_CUDA_GRAPH)
  if (device.is_cuda()) state_ = std::make_unique<State>(c10::cuda::getStreamFromPool(false, device.index()));
#else
  (void)device;
#endif
}

SideStreamScope::~SideStreamScope() = default;

}  // namespace sdxl::gpu
