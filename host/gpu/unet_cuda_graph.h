#pragma once
// A UNet call captured once as a CUDA graph and replayed (issue 10's launch-overhead lever: at
// 512² the eager UNet spends most of its time launching ~2000 small kernels from the CPU).
//
// capture() records one forward on static input buffers; replay() copies new inputs into them and
// re-launches the recorded kernels, which write the same static output tensor. A call that brings
// its job's cross-attention keys and values (UNetInputs::context_kv) is captured reading them from
// a buffer too (gpu/unet_graph_inputs.h), so replays skip those products. Shapes, dtypes and
// the device are fixed at capture: another resolution or batch needs another graph. The weights
// are read from their storage at replay, so weights edited in place (a LoRA merge) are seen;
// weights re-seated on new storage (the memory arbiter moving them) are not — capture again
// (pipeline/unet_graph_cache.h decides when).
//
// Builds everywhere: the CUDA code is compiled only where the torch headers have
// ATen/cuda/CUDAGraph.h (the configure check SDXL_HAVE_CUDA_GRAPH); elsewhere capture() answers
// `unsupported` and available() is false.
#include <ATen/core/Tensor.h>

#include <memory>

#include "gpu/unet_graph_inputs.h"
#include "models/unet/unet_model.h"
#include "sdxl/sdk/status.h"

namespace sdxl::gpu {

class UNetCudaGraph {
 public:
  /// Whether this build can capture CUDA graphs at all.
  static bool available();

  /// Warms up on a side stream (cuDNN/cuBLAS pick their algorithms and allocate workspaces
  /// outside the capture), then captures one forward on copies of `example` (all on CUDA, no
  /// ControlNet residuals; with or without context keys/values, which every replay must match).
  static sdk::Result<std::unique_ptr<UNetCudaGraph>> capture(const models::UNet2DConditionModel& unet,
                                                            const models::UNetInputs& example, int warmups = 1);
  ~UNetCudaGraph();
  UNetCudaGraph(const UNetCudaGraph&) = delete;
  UNetCudaGraph& operator=(const UNetCudaGraph&) = delete;

  /// Copies `in` into the static inputs (UNetGraphInputs::load) and replays; the returned tensor is the
  /// graph's static output, overwritten by the next replay (clone it to keep it).
  sdk::Result<at::Tensor> replay(const models::UNetInputs& in);

 private:
  struct State;
  explicit UNetCudaGraph(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace sdxl::gpu
