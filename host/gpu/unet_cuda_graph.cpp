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
  models::UNetInputs inputs;  // static buffers the graph reads
  at::Tensor output;          // the graph's output
  at::cuda::CUDAGraph graph;
};

bool UNetCudaGraph::available() { return true; }

sdk::Result<std::unique_ptr<UNetCudaGraph>> UNetCudaGraph::capture(const models::UNet2DConditionModel& unet,
                                                                  const models::UNetInputs& example, int warmups) {
  if (!example.sample.is_cuda()) return sdk::invalid_argument("CUDA graph: the inputs must be on a CUDA device");
  if (!example.down_residuals.empty() || example.mid_residual.defined())
    return sdk::unsupported("CUDA graph: ControlNet residuals are not captured");
  auto s = std::make_unique<State>();
  const auto dst = graph_input_tensors(s->inputs);
  const auto src = graph_input_tensors(example);
  try {
    for (std::size_t i = 0; i < dst.size(); ++i) *dst[i] = src[i]->contiguous().clone();
    c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
    c10::cuda::getCurrentCUDAStream().synchronize();  // the clones above ran on the current stream
    {
      c10::cuda::CUDAStreamGuard guard(side);
      for (int i = 0; i < warmups; ++i) {
        auto eps = unet.forward(s->inputs);
        if (!eps.ok()) return eps.status();
      }
    }
    side.synchronize();
    {
      c10::cuda::CUDAStreamGuard guard(side);
      // Thread-local capture: other threads (jobs, the server, a memory sampler) may go on
      // calling the CUDA runtime while this one records.
      s->graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
      auto eps = unet.forward(s->inputs);
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
  const auto dst = graph_input_tensors(s_->inputs);
  const auto src = graph_input_tensors(in);
  for (std::size_t i = 0; i < dst.size(); ++i)
    if (src[i]->sizes() != dst[i]->sizes()) return sdk::invalid_argument("CUDA graph: input shapes differ from the captured ones");
  try {
    for (std::size_t i = 0; i < dst.size(); ++i) dst[i]->copy_(*src[i]);
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
