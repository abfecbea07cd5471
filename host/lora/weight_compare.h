#pragma once
// The LoRA contract check (golden/lora/README.md "How to use a case"): every expected tensor
// within atol + rtol * |expected| of the merged one, and every tensor NOT in the expected set
// bit-identical to its original.

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "lora/merge_engine.h"

namespace sdxl::lora {

struct CompareResult {
  bool passed = false;
  std::size_t compared = 0;     ///< expected tensors checked
  std::size_t untouched = 0;    ///< other tensors checked bit-identical
  double worst_abs_error = 0;   ///< over the expected tensors
  std::string worst_key;
  std::vector<std::string> failures;  ///< one line each
  std::string summary() const;
};

CompareResult compare_merge(const WeightMap& merged, const std::map<std::string, at::Tensor>& expected,
                            const MergeEngine& engine, double atol, double rtol);

}  // namespace sdxl::lora
