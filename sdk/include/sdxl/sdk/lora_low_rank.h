#pragma once
/// @file lora_low_rank.h
/// Optional extension of kind `lora_format`: a patch's change as low-rank factors.
/// @since 1.0 (an extension: formats without it work unchanged, hosts that never ask lose nothing)
///
/// A host asks a LoraFormat for it with `format.extension(SDXL_LORA_LOW_RANK_EXTENSION)`; a
/// non-null answer is a `LowRankAccess*` owned by the plugin and valid while the format object is.
/// With it the host can
///   * apply a LoRA in the forward pass without touching the base weights (runtime mode:
///     y = base(x) + m * scale * up(mid(down(x)))), and
///   * form the product up @ down with its own fastest kernels when merging.
/// Patches whose change is not an additive low-rank product (LoHa, LoKr, full differences, DoRA,
/// which looks at the base weight) answer nullopt and are applied through WeightPatch::apply.
///
/// Thread rules: low_rank() is const and thread-safe.
/// Ownership: the returned tensors share storage with the patch (views of the LoRA file); the
/// host must not write to them.

#include <ATen/core/Tensor.h>

#include <optional>

#include "sdxl/sdk/lora_format.h"

/// Extension id (LoraFormat::extension) of LowRankAccess, version 1.
#define SDXL_LORA_LOW_RANK_EXTENSION "org.sdxl.lora.low_rank.v1"

namespace sdxl::sdk {
inline namespace v1 {

/// change = scale * up @ [mid] @ down, reshaped to the weight; independent of the base weight,
/// so apply(W, m) == W + m * change (up to rounding).
struct LowRankFactors {
  at::Tensor up;    ///< [out, r]
  at::Tensor mid;   ///< undefined, or a Tucker core [r, r2, kh, kw] (conv only; then down is [r2, in, 1, 1])
  at::Tensor down;  ///< Linear: [r, in]; Conv2d: [r, in, kh, kw] (the layer's kernel, or 1x1 with mid)
  double scale = 1.0;  ///< alpha / rank (1 without alpha); the user's multiplier is NOT included
};

class LowRankAccess {
 public:
  virtual ~LowRankAccess() = default;
  /// The factors of `patch` (dtype as stored), or nullopt when its change is not additive low
  /// rank or the patch was not made by this format.
  virtual std::optional<LowRankFactors> low_rank(const WeightPatch& patch) const = 0;
};

}  // namespace v1
}  // namespace sdxl::sdk
