#pragma once
// Replay of the `unet` golden case (cases/unet.safetensors + unet.json): one UNet call per
// sub-case. Sub-cases are discovered from the manifest (every input tensor named PREFIX.sample),
// so sets with other prefixes, batch sizes and latent shapes work unchanged; optional inputs
// PREFIX.down_residual.{i} / PREFIX.mid_residual (ControlNet residuals) are applied. Only tensors with
// role `input` are read; intermediates PREFIX.debug.* are produced when the manifest lists them.
// host/cli/golden_unet.cpp wraps these functions in a GoldenHandler.

#include <set>
#include <string>
#include <vector>

#include "golden/golden_case.h"

namespace sdxl::models {

/// Sub-case prefixes ("square", "nonsquare", …; "" for an unprefixed case), in manifest order.
std::vector<std::string> unet_case_prefixes(const nlohmann::json& manifest);

/// Names of all tensors with role `input` (what a replay may read).
std::set<std::string> unet_case_inputs(const nlohmann::json& manifest);

/// Loads the UNet from opts.model (+ opts.model_config) and runs every sub-case on opts.device in
/// opts.dtype (float32 on the CPU by default); outputs are float32 on the CPU.
sdk::Result<golden::TensorList> replay_unet_case(const golden::GoldenCase& c, const golden::GoldenOptions& opts);

/// Compares produced tensors with the expected ones: every `output` must be present; produced
/// intermediates are checked too. Tolerances from the manifest's suggested_tolerance patterns.
golden::CompareReport compare_unet_case(const golden::GoldenCase& full, const golden::TensorList& produced);

}  // namespace sdxl::models
