#pragma once
// Model weights for LoRA work without a running pipeline: component safetensors files read into
// one WeightMap keyed "<component>.<parameter>" (component = unet, text_encoder, text_encoder_2).

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "lora/merge_engine.h"
#include "lora/module_table.h"

namespace sdxl::lora {

/// Adds every tensor of `file` as "<component>.<name>", converted to `dtype` (a copy; the file is
/// never written). Refuses SGM-named UNet files (model.diffusion_model.*) with a clear message.
sdk::Status add_component_file(const std::filesystem::path& file, const std::string& component, c10::ScalarType dtype,
                               WeightMap* weights);

/// Shapes of every weight, for ModuleTable::from_params.
ParamShapes param_shapes(const WeightMap& weights);

}  // namespace sdxl::lora
