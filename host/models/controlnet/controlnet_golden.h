#pragma once
// Replay of the `controlnet` golden case (cases/controlnet.safetensors + controlnet.json): one
// ControlNet call -> down_residual.{i}, mid_residual, debug.cond_embedding, then the UNet with and
// without those residuals -> eps, eps_without_controlnet. Reads only tensors with role `input`.
// host/cli/golden_controlnet.cpp wraps these functions in a GoldenHandler.

#include <filesystem>
#include <set>
#include <string>

#include "golden/golden_case.h"

namespace sdxl::models {

/// True for the controlnet case (manifest "case": "controlnet").
bool is_controlnet_case(const golden::GoldenCase& c);

/// Names of all tensors with role `input`.
std::set<std::string> controlnet_case_inputs(const nlohmann::json& manifest);

/// ControlNet from opts.controlnet (default: controlnet-tiny/ beside the case folder), config from
/// opts.model_config when it holds a ControlNet config (config.json or controlnet/config.json);
/// UNet from opts.model (default: tiny-sdxl/ beside the case folder), configs from
/// opts.model_config/unet when present. Float32 on the CPU.
sdk::Result<golden::TensorList> replay_controlnet_case(const golden::GoldenCase& c, const golden::GoldenOptions& opts);

/// Every `output` and produced `intermediate` against the manifest tolerances.
golden::CompareReport compare_controlnet_case(const golden::GoldenCase& full, const golden::TensorList& produced);

}  // namespace sdxl::models
