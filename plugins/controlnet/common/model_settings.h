#pragma once
// Options shared by the learned ControlNet types (depth, normal, pose, segmentation, lineart's
// optional model), and turning a picture into the model's input tensor.

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "model_runner.h"
#include "sdxl/sdk/host_services.h"
#include "sdxl/sdk/options.h"

namespace sdxl::cntypes {

/// `model`, `backend`, `resolution`, `normalize` with the given defaults.
std::vector<sdk::OptionSpec> model_option_specs(const std::string& what_model, std::int64_t default_resolution,
                                                const std::string& default_normalize);

struct ModelSettings {
  std::string path;              ///< empty: no model configured
  std::string backend = "auto";  ///< auto | onnx | torchscript
  std::int64_t resolution = 0;   ///< square model input side; 0 = the picture's own size
  std::string normalize = "imagenet";  ///< imagenet | symmetric | unit | raw
};

ModelSettings model_settings_from(const sdk::Options& o);

/// The model, opened when a path is configured; nullptr when none is. `type` and `plugin_id`
/// name the feature in messages.
sdk::Result<std::shared_ptr<ModelRunner>> open_configured_model(const std::string& type, const ModelSettings& s,
                                                                const sdk::HostServices& services);

/// The refusal of a learned type asked to preprocess without a model.
sdk::Status missing_model(const std::string& type, const std::string& plugin_id, const std::string& what_model);

/// image: uint8 [H, W, 3] RGB -> float32 [1, 3, R, R] (R = resolution, or H x W when 0), scaled
/// by `normalize`: imagenet ((x/255 - mean) / std with the ImageNet statistics), symmetric
/// (x/127.5 - 1), unit (x/255), raw (0..255).
at::Tensor model_input(const at::Tensor& image, const ModelSettings& s);

/// Resizes a model output map [C, h, w] (or [h, w]) to [C, H, W] bilinearly.
at::Tensor resize_maps(const at::Tensor& maps, int64_t height, int64_t width);

/// Picks the output of `outputs` that has `channels` channels ([1, C, h, w] or [C, h, w]); with
/// channels = 0 the first output with a spatial layout. Returns [C, h, w].
sdk::Result<at::Tensor> spatial_output(const std::string& who, const std::vector<at::Tensor>& outputs,
                                       int64_t channels);

}  // namespace sdxl::cntypes
