#pragma once
// The weight-delta algorithms every LoRA dialect reduces to: low rank (LoRA/LoCon, optionally
// with a Tucker core), Hadamard product (LoHa, plain or Tucker), Kronecker product (LoKr, every
// factor variant) and full difference. Formulas: golden/lora/README.md "Maths"; LyCORIS paper
// (Yeh et al., "Navigating Text-To-Image Customization", 2023) for LoHa/LoKr.
//
// validate_delta() checks every factor shape against the target weight WITHOUT computing the
// product, so a whole file is checked before any weight is touched; compute_delta() then cannot
// fail on shapes. Shared by the kohya/LyCORIS and the diffusers plugins (plugins/lora/*).

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::lora {

enum class Algorithm { low_rank, hadamard, kronecker, full };
const char* to_string(Algorithm a);

/// Factor tensors as stored (any float dtype); undefined tensors are absent factors.
struct DeltaFactors {
  Algorithm algorithm = Algorithm::low_rank;
  // low_rank: up [out, r(,1,1)], down [r, in(,kh,kw)], mid (Tucker core) [r, r, kh, kw]
  at::Tensor up, down, mid;
  // hadamard: w1a/w2a [out, r] (Tucker: [r, out]), w1b/w2b [r, in*kh*kw] (Tucker: [r, in]), t1/t2 [r, r, kh, kw]
  at::Tensor w1a, w1b, w2a, w2b, t1, t2;
  // kronecker: w1 [a, c] or w1a [a, r] @ w1b [r, c]; w2 [b, d(,kh,kw)] or w2a [b, r] @ w2b [r, d*kh*kw],
  // or Tucker t2 [r, r, kh, kw] with w2a [r, b], w2b [r, d]. Stored in w1, w1a(=w1a), w1b, w2, w2a, w2b, t2.
  at::Tensor k_w1, k_w1a, k_w1b, k_w2, k_w2a, k_w2b, k_t2;
  // full: diff with the target's shape
  at::Tensor diff;
};

/// What validate_delta learned: the rank r that alpha divides, or 0 where alpha does not apply
/// (full difference, LoKr with both factors full).
struct DeltaInfo {
  std::int64_t rank = 0;
};

/// Checks the factors against `target` (the weight shape); errors name `group` and the shapes.
sdk::Result<DeltaInfo> validate_delta(const DeltaFactors& f, const std::vector<std::int64_t>& target,
                                      const std::string& group);

/// dW as float32 with shape `target`, on `device` (the base weight's). Only for factors
/// validate_delta accepted.
at::Tensor compute_delta(const DeltaFactors& f, at::IntArrayRef target, c10::Device device = c10::Device(c10::kCPU));

}  // namespace sdxl::lora
