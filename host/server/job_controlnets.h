#pragma once
// ControlNet units of a server job: the JSON of `controlnets` (native API) or of
// `alwayson_scripts.controlnet.args` (A1111's ControlNet extension) as pipeline requests.
//
// A unit is an object; both spellings are accepted:
//   model            a name inside the [controlnet] folders (NAME/ or NAME.safetensors); never a
//                    path. A1111's "name [hash]" is accepted (the hash is dropped).
//   image            base64 PNG (also "input_image", or A1111's {"image": base64, "mask": …})
//   type / module    a controlnet_type feature or alias ("canny", "depth"…); "none" or absent:
//                    the picture already is the control image. A1111 module names the registry
//                    does not know are tried by their family ("depth_leres" → depth,
//                    "openpose_full" → openpose, "seg_ofade20k" → seg, …).
//   scale / weight, guidance_start / start, guidance_end / end      numbers
//   resize_mode / resize   "crop_and_resize" (default), "just_resize", "resize_and_fill", A1111's
//                    spellings, or A1111's integers 0 (just resize), 1 (crop), 2 (fill)
//   options          { option: value } for the type plugin (thresholds…)
//   enabled          false: the unit is skipped (A1111)
//   threshold_a/b    A1111's module parameters: canny's low/high thresholds; ignored for other
//                    types, and when negative (A1111 clients send -1 for "unused")
//   control_mode     only "Balanced" (0): the other A1111 modes change the guidance itself
//   processor_res, pixel_perfect, low_vram, lowvram, guess_mode (false)   accepted, no effect:
//                    pictures are always preprocessed at the output size
// Errors are invalid_argument / not_found naming the unit and field ("controlnets[1].weight: …").

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/control_units.h"
#include "sdxl/sdk/status.h"

namespace sdxl::plugins {
class PluginRegistry;
}

namespace sdxl::server {

/// A ControlNet model name → its file or folder inside `folders` (first match wins).
sdk::Result<std::filesystem::path> resolve_controlnet_name(const std::string& name,
                                                           const std::vector<std::filesystem::path>& folders);

/// The ControlNet names `folders` offer (file stems of .safetensors and folder names with a
/// config.json), sorted, without duplicates.
std::vector<std::string> controlnet_names(const std::vector<std::filesystem::path>& folders);

/// The units as requests: models resolved inside `folders`, pictures decoded, types looked up.
sdk::Result<std::vector<pipeline::ControlUnitRequest>> control_requests_from_json(
    const nlohmann::json& units, const std::vector<std::filesystem::path>& folders,
    const plugins::PluginRegistry& registry);

}  // namespace sdxl::server
