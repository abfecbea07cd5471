#pragma once
// Runtime (unmerged) LoRA: the base weights are never written; every patched Linear / Conv2d
// computes y = base(x) + adapter(x) through the layer-adapter hook (models/common/layers.h).
//
//   * Modules whose patches are all plain or Tucker low rank (kohya LoRA/LoCon, PEFT, …, without
//     DoRA) run the factors: adapter(x) = up(down(x)) with every LoRA's rank concatenated into
//     one down and one up product, m·s folded into `up` (Tucker cores as extra small convs).
//   * Everything else — LoHa, LoKr, full differences, DoRA (which depends on the base weight), or
//     a module where such a patch is stacked with low-rank ones — is materialised once per LoRA
//     set: dW = (merge of the module's patches in float32) − W, and adapter(x) = dW·x. This costs
//     a weight-sized tensor per module, in the weight's dtype.
//   * diff_b (full bias differences) add a per-channel vector.
// Adapters live on the weight's device in its dtype (the forward pass's compute dtype).
//
// Thread rules: one engine per weight set; attach()/detach() while no forward pass runs.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lora/merge_engine.h"
#include "sdxl/sdk/status.h"

namespace sdxl::lora {

/// One LoRA of a runtime set with its multipliers per component.
struct RuntimeLora {
  std::shared_ptr<const LoadedLora> lora;
  ComponentMultipliers multipliers;
};

struct RuntimeStats {
  std::size_t modules = 0;         ///< layers with an adapter
  std::size_t low_rank_modules = 0;
  std::size_t dense_modules = 0;   ///< materialised dW
  std::size_t patches = 0;
  std::uint64_t adapter_bytes = 0;  ///< memory the adapters hold (factors and materialised deltas)
};

class RuntimeEngine {
 public:
  /// `weights`: the model's parameters (read only). `adaptable(param)`: whether the network
  /// computes with that weight through a layer that honours adapters (others are refused: an
  /// adapter there would silently do nothing).
  RuntimeEngine(const WeightMap* weights, std::function<bool(const std::string&)> adaptable)
      : weights_(weights), adaptable_(std::move(adaptable)) {}
  ~RuntimeEngine() { detach(); }
  RuntimeEngine(const RuntimeEngine&) = delete;
  RuntimeEngine& operator=(const RuntimeEngine&) = delete;

  /// Replaces the active set with `stack` (empty: none). All or nothing: on error the previous
  /// set stays attached.
  sdk::Result<RuntimeStats> attach(const std::vector<RuntimeLora>& stack);
  /// Removes every adapter this engine attached.
  void detach();

  std::uint64_t adapter_bytes() const { return stats_.adapter_bytes; }
  const RuntimeStats& stats() const { return stats_; }

 private:
  const WeightMap* weights_;
  std::function<bool(const std::string&)> adaptable_;
  std::vector<at::Tensor> attached_;  // weights carrying our adapters
  RuntimeStats stats_;
};

}  // namespace sdxl::lora
