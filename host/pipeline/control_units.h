#pragma once
// ControlNet units of a generation job (multi-ControlNet, as diffusers' MultiControlNetModel and
// A1111's ControlNet units):
//
//   ControlUnitRequest  what a user asks for (CLI --control, TOML [generate] controlnets, server
//                       JSON): a model, a control type, a picture, a weight and a step window.
//   ControlUnit         the same, resolved before any step runs: the shared ControlNet model, the
//                       control picture at the output size (resized by the policy, preprocessed by
//                       the type plugin) as [1, 3, H, W] in [0, 1], and the numbers.
//   make_control_step   the per-step function the denoiser calls: runs every unit active at that
//                       step on the UNet's inputs and returns the sum of their residuals.
//
// Activity (diffusers' controlnet_keep): unit u is active at call i of n when
//   not (i / n < guidance_start  or  (i + 1) / n > guidance_end).
// Residuals of active units are summed element-wise (each already scaled by its weight).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/unet/unet_model.h"
#include "sdxl/sdk/options.h"
#include "sdxl/sdk/status.h"

namespace sdxl::models {
class ControlNetModel;
}
namespace sdxl::plugins {
class PluginRegistry;
}

namespace sdxl::pipeline {

/// One ControlNet unit as requested. Unset numbers fall back to the type plugin's defaults
/// (sdk::ControlDefaults), then to 1.0 / 0.0 / 1.0.
struct ControlUnitRequest {
  /// ControlNet weights: a diffusers folder (config.json + diffusion_pytorch_model.safetensors) or
  /// a single .safetensors file (diffusers or original "cldm" key names); a bare name is looked
  /// up in the folders given to resolve_control_units().
  std::string model;
  /// Optional folder with the ControlNet's config.json, for single files whose head counts the
  /// weights cannot tell (without it: SDXL's 64-channel heads).
  std::string model_config;
  /// controlnet_type feature ("canny", "depth"…); "none" or empty: the picture is already a
  /// control image and is used as is (after resizing).
  std::string type;
  /// The picture: `image` (uint8 [H, W, 3] RGB, CPU) when defined, else the PNG at `image_path`.
  std::string image_path;
  at::Tensor image;
  std::optional<double> scale;           ///< controlnet_conditioning_scale (A1111 "Weight")
  std::optional<double> guidance_start;  ///< fraction of steps, in [0, 1]
  std::optional<double> guidance_end;    ///< fraction of steps, in [guidance_start, 1]
  /// How a picture whose size differs from the output is fitted: "crop_and_resize" (default, as
  /// A1111: cover, then centre-crop), "just_resize" (stretch), "resize_and_fill" (fit inside,
  /// then pad with the median border colour).
  std::string resize_mode = "crop_and_resize";
  sdk::Options type_options;  ///< overrides of the type plugin's options (thresholds…)
};

/// A unit ready to run.
struct ControlUnit {
  std::shared_ptr<const models::ControlNetModel> model;  ///< shared between units
  at::Tensor image;  ///< [1, 3, H, W] float32 in [0, 1], CPU, at the output size
  double scale = 1.0, guidance_start = 0.0, guidance_end = 1.0;
  // For the infotext and logs:
  std::string model_name;   ///< file or folder stem
  std::string type;         ///< "none" when the picture was used as is
  std::string resize_mode;
};

/// Checks the numbers and names of a request without touching files (before any model loads).
sdk::Status validate_control_request(const ControlUnitRequest& r, std::size_t index);

/// "model=PATH,image=IMG[,type=canny][,scale=0.8][,start=0][,end=1][,resize=crop_and_resize]".
sdk::Result<ControlUnitRequest> parse_control_argument(const std::string& text);

/// A unit with everything but the model checked and prepared: the model file found, the type
/// plugin run, the picture at the output size.
struct PreparedControlUnit {
  std::filesystem::path model_path, model_config;
  at::Tensor picture;  ///< uint8 [height, width, 3]: the control image the ControlNet will see
  double scale = 1.0, guidance_start = 0.0, guidance_end = 1.0;
  std::string type;    ///< "none" when the picture is used as is
  std::string resize_mode;
};

/// Phase 1, before any model loads: validates, finds model files (bare names in `folders`),
/// reads, fits and preprocesses every picture. Errors name the unit ("control unit 2") and file.
sdk::Result<std::vector<PreparedControlUnit>> prepare_control_units(const std::vector<ControlUnitRequest>& requests,
                                                                    const plugins::PluginRegistry& registry,
                                                                    std::int64_t width, std::int64_t height,
                                                                    const std::vector<std::filesystem::path>& folders = {});

/// Phase 2: loads the models (shared between units naming the same file, in the UNet's dtype and
/// on its device) and refuses any whose structure does not fit the UNet.
sdk::Result<std::vector<ControlUnit>> load_control_units(const std::vector<PreparedControlUnit>& prepared,
                                                         const models::UNet2DConditionModel& unet,
                                                         const std::string& unet_source = "the UNet");

/// Both phases.
sdk::Result<std::vector<ControlUnit>> resolve_control_units(const std::vector<ControlUnitRequest>& requests,
                                                            const models::UNet2DConditionModel& unet,
                                                            const plugins::PluginRegistry& registry,
                                                            std::int64_t width, std::int64_t height,
                                                            const std::vector<std::filesystem::path>& folders = {});

/// The uint8 picture [H, W, 3] as a ControlNet input [1, 3, H, W] float32 in [0, 1].
at::Tensor control_image_tensor(const at::Tensor& picture);

/// diffusers' controlnet_keep rule for call `i` of `n`.
bool control_unit_active(const ControlUnit& u, std::int64_t i, std::int64_t n);

/// Summed residuals of the active units at one call; `any` false when no unit was active.
struct ControlStepResiduals {
  bool any = false;
  std::vector<at::Tensor> down;  ///< [rows, C_k, h_k, w_k], one per UNet skip tensor
  at::Tensor mid;
};

/// What the denoiser calls before every UNet call, with the UNet's own inputs (sample,
/// timestep, text embeddings, pooled, time ids; rows [negative; positive] under CFG).
using ControlStepFn =
    std::function<sdk::Result<ControlStepResiduals>(std::int64_t call, std::int64_t calls, const models::UNetInputs& in)>;

/// The step function over `units` (which must outlive it). Control pictures are repeated to the
/// UNet's batch of rows and moved to each model's device and dtype once.
ControlStepFn make_control_step(const std::vector<ControlUnit>& units);

/// A1111's infotext fields: ("ControlNet 0", "Module: canny, Model: <stem>, Weight: 0.8, …").
std::vector<std::pair<std::string, std::string>> control_infotext(const std::vector<ControlUnit>& units);

/// A job's infotext fields after the model's (CLI and server alike): ("VAE", vae_name) for a VAE of
/// its own (SdxlModel::vae_name; none when empty), then control_infotext's.
std::vector<std::pair<std::string, std::string>> job_infotext_fields(const std::string& vae_name,
                                                                     const std::vector<ControlUnit>& units);

}  // namespace sdxl::pipeline
