#pragma once
// The product of a low-rank patch's factors (sdk/lora_low_rank.h), formed with the fastest kernel
// available: on the CPU with Debian's reference BLAS the plugins' at::matmul runs at ~2 GFLOP/s,
// so up @ down goes through models::linear (oneDNN on such builds, a plain matmul elsewhere).
// Shared by the merge engine (fast merges) and the runtime adapters (dense fallbacks).

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "sdxl/sdk/lora_low_rank.h"

namespace sdxl::lora {

/// up @ [mid] @ down as float32 with shape `shape` (the weight's) on `device`, WITHOUT the
/// factors' scale (callers fold scale x multiplier into one add).
at::Tensor low_rank_product(const sdk::LowRankFactors& f, at::IntArrayRef shape, c10::Device device);

}  // namespace sdxl::lora
