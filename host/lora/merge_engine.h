#pragma once
// Merging LoRAs into a model's weights and taking them out again.
//
// For every parameter some patch touches: start from its stored value upcast to float32,
// apply the patches of every LoRA in list order (each with multiplier = its own x the component's),
// round once to the parameter's storage dtype and write it back in place (so networks holding
// the tensor see the change). The original is kept as a backup in its storage dtype, so
// unmerge() restores it bit-identically, and a merge that fails part-way restores everything it
// had touched: no weight is ever left half-merged.
//
// Thread rules: one engine per weight set; not thread-safe (the caller serialises merges).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lora/lora_library.h"
#include "sdxl/sdk/status.h"

namespace sdxl::lora {

/// Canonical parameter name ("unet.conv_in.weight", "text_encoder.text_model….weight") -> tensor.
using WeightMap = std::map<std::string, at::Tensor>;

struct LoraApplication {
  std::shared_ptr<const LoadedLora> lora;
  double multiplier = 1.0;  ///< negative values are legal
};

/// Per-component strength on top of each LoRA's multiplier (A1111's unet/te weights).
struct ComponentMultipliers {
  double unet = 1.0;
  double text_encoder = 1.0;  ///< both text encoders
};

struct MergeStats {
  std::size_t parameters_changed = 0;
  std::size_t patches_applied = 0;
  std::uint64_t backup_bytes = 0;
};

class MergeEngine {
 public:
  explicit MergeEngine(WeightMap* weights) : weights_(weights) {}

  /// Applies `stack` on top of the current weights (originals are backed up on first touch).
  /// All or nothing: on error every parameter is back where it was before the call.
  sdk::Result<MergeStats> merge(const std::vector<LoraApplication>& stack, const ComponentMultipliers& components = {});
  /// Restores every changed parameter bit-identically and drops the backups.
  void unmerge();

  bool merged() const { return !backups_.empty(); }
  std::uint64_t backup_bytes() const;
  /// Parameters that currently differ from their originals (sorted).
  std::vector<std::string> changed_parameters() const;
  /// The original value of a changed parameter (undefined tensor when unchanged).
  at::Tensor original(const std::string& parameter) const;

  /// Plain low-rank patches are added as W += m·s·(up @ down) with the product formed by the host
  /// (oneDNN on the CPU, lora/low_rank_product.h). On by default; off sends every patch through
  /// the plugin's WeightPatch::apply (for A/B benchmarks and tests).
  void set_host_low_rank(bool on) { host_low_rank_ = on; }

 private:
  WeightMap* weights_;
  std::map<std::string, at::Tensor> backups_;  // original values, storage dtype
  bool host_low_rank_ = true;
};

}  // namespace sdxl::lora
