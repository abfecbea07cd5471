#include "gpu/unet_cuda_graph.h"

#if defined(SDXL_HAVE_CUDA_GRAPH)
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace sdxl::gpu {

#if defined(SDXL_HAVE_CUDA_GRAPH)

struct UNetCudaGraph::State {
  explicit State(UNetGraphInputs in) : inputs(std::move(in)) {}
  UNetGraphInputs inputs;  // static buffers the graph reads
  at::Tensor output;       // the graph's output
  at::cuda::CUDAGraph graph;
};

bool UNetCudaGraph::available() { return true; }

sdk::Result<std::unique_ptr<UNetCudaGraph>> UNetCudaGraph::capture(const models::UNet2DConditionModel& unet,
                                                                  const models::UNetInputs& example, int warmups) {
  if (!example.sample.is_cuda()) return sdk::invalid_argument("CUDA graph: the inputs must be on a CUDA device");
  auto buffers = UNetGraphInputs::copy_of(example);
  if (!buffers.ok()) return buffers.status();
  auto s = std::make_unique<State>(std::move(buffers).value());
  const models::UNetInputs& in = s->inputs.inputs();
  try {
    c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
    c10::cuda::getCurrentCUDAStream().synchronize();  // the clones above ran on the current stream
    {
      c10::cuda::CUDAStreamGuard guard(side);
      for (int i = 0; i < warmups; ++i) {
        auto eps = unet.forward(in);
        if (!eps.ok()) return eps.status();
      }
    }
    side.synchronize();
    {
      c10::cuda::CUDAStreamGuard guard(side);
      // Thread-local capture: other threads (jobs, the server, a memory sampler) may go on
      // calling the CUDA runtime while this one records.
      s->graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
      auto eps = unet.forward(in);
      s->graph.capture_end();
      if (!eps.ok()) return eps.status();
      s->output = eps.value();
    }
    side.synchronize();
  } catch (const std::exception& e) {
    return sdk::internal_error(std::string("CUDA graph capture failed: ") + e.what());
  }
  return std::unique_ptr<UNetCudaGraph>(new UNetCudaGraph(std::move(s)));
}

sdk::Result<at::Tensor> UNetCudaGraph::replay(const models::UNetInputs& in) {
  if (auto st = s_->inputs.load(in); !st.ok()) return st;
  try {
    s_->graph.replay();
  } catch (const std::exception& e) {
    return sdk::internal_error(std::string("CUDA graph replay failed: ") + e.what());
  }
  return s_->output;
}

#else  // no CUDA graphs in this build's torch

struct UNetCudaGraph::State {};

bool UNetCudaGraph::available() { return false; }

sdk::Result<std::unique_ptr<UNetCudaGraph>> UNetCudaGraph::capture(const models::UNet2DConditionModel&,
                                                                  const models::UNetInputs&, int) {
  return sdk::unsupported("CUDA graph: this build's libtorch has no CUDA graphs (ATen/cuda/CUDAGraph.h)");
}

sdk::Result<at::Tensor> UNetCudaGraph::replay(const models::UNetInputs&) {
  return sdk::unsupported("CUDA graph: this build's libtorch has no CUDA graphs");
}

#endif

UNetCudaGraph::UNetCudaGraph(std::unique_ptr<State> s) : s_(std::move(s)) {}
UNetCudaGraph::~UNetCudaGraph() = default;

}  // namespace sdxl::gpu
