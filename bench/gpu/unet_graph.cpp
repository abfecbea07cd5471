#include "unet_graph.h"

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace sdxl::bench {

struct UNetGraph::State {
  models::UNetInputs inputs;  // static buffers the graph reads
  at::Tensor output;          // the graph's output
  at::cuda::CUDAGraph graph;
};

UNetGraph::UNetGraph(std::unique_ptr<State> s) : s_(std::move(s)) {}
UNetGraph::~UNetGraph() = default;

namespace {
void copy_inputs(models::UNetInputs& dst, const models::UNetInputs& src) {
  dst.sample.copy_(src.sample);
  dst.timestep.copy_(src.timestep);
  dst.encoder_hidden_states.copy_(src.encoder_hidden_states);
  dst.text_embeds.copy_(src.text_embeds);
  dst.time_ids.copy_(src.time_ids);
}
}  // namespace

sdk::Result<std::unique_ptr<UNetGraph>> UNetGraph::capture(const models::UNet2DConditionModel& unet,
                                                          const models::UNetInputs& example, int warmups) {
  if (!example.sample.is_cuda()) return sdk::invalid_argument("CUDA graph: the inputs must be on a CUDA device");
  if (!example.down_residuals.empty() || example.mid_residual.defined())
    return sdk::unsupported("CUDA graph: ControlNet residuals are not captured");
  auto s = std::make_unique<State>();
  s->inputs.sample = example.sample.clone();
  s->inputs.timestep = example.timestep.clone();
  s->inputs.encoder_hidden_states = example.encoder_hidden_states.clone();
  s->inputs.text_embeds = example.text_embeds.clone();
  s->inputs.time_ids = example.time_ids.clone();
  try {
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
      s->graph.capture_begin();
      auto eps = unet.forward(s->inputs);
      s->graph.capture_end();
      if (!eps.ok()) return eps.status();
      s->output = eps.value();
    }
    side.synchronize();
  } catch (const std::exception& e) {
    return sdk::internal_error(std::string("CUDA graph capture failed: ") + e.what());
  }
  return std::unique_ptr<UNetGraph>(new UNetGraph(std::move(s)));
}

sdk::Result<at::Tensor> UNetGraph::replay(const models::UNetInputs& in) {
  if (in.sample.sizes() != s_->inputs.sample.sizes() ||
      in.encoder_hidden_states.sizes() != s_->inputs.encoder_hidden_states.sizes())
    return sdk::invalid_argument("CUDA graph: input shapes differ from the captured ones");
  try {
    copy_inputs(s_->inputs, in);
    s_->graph.replay();
  } catch (const std::exception& e) {
    return sdk::internal_error(std::string("CUDA graph replay failed: ") + e.what());
  }
  return s_->output;
}

}  // namespace sdxl::bench
