#pragma once
// A UNet call captured once as a CUDA graph and replayed (issue 10's launch-overhead lever: at
// 512² the eager UNet spends most of its time launching ~2000 small kernels).
//
// The graph records one forward on static input buffers; replay() copies new inputs into them
// and re-launches the recorded kernels, writing the same static output tensor. Shapes, dtypes and
// devices are fixed at capture: a new resolution or batch needs a new graph. The weights are read
// from their own storage at replay, so weights changed in place (a LoRA merge) are seen; weights
// re-seated on new storage (the memory arbiter moving them) are not: capture again.
//
// Only built where the torch headers have ATen/cuda/CUDAGraph.h (CUDA builds of libtorch); see
// bench/gpu/CMakeLists.txt (SDXL_HAVE_CUDA_GRAPH).
#include <ATen/core/Tensor.h>

#include <memory>

#include "models/unet/unet_model.h"
#include "sdxl/sdk/status.h"

namespace sdxl::bench {

class UNetGraph {
 public:
  /// Warms up on a side stream (cuDNN/cuBLAS pick their algorithms and allocate workspaces
  /// outside the capture), then captures one forward on copies of `example` (all on CUDA).
  static sdk::Result<std::unique_ptr<UNetGraph>> capture(const models::UNet2DConditionModel& unet,
                                                        const models::UNetInputs& example, int warmups = 3);
  ~UNetGraph();

  /// Copies `in` into the static inputs (same shapes) and replays; the returned tensor is the
  /// graph's static output, overwritten by the next replay (clone it to keep it).
  sdk::Result<at::Tensor> replay(const models::UNetInputs& in);

 private:
  struct State;
  explicit UNetGraph(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace sdxl::bench
