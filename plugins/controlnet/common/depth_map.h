#pragma once
// A learned depth estimate of a picture, as the depth and normal types both need it.

#include <ATen/core/Tensor.h>

#include <string>

#include "model_runner.h"
#include "model_settings.h"

namespace sdxl::cntypes {

/// What the depth model's output means. MiDaS, DPT and Depth-Anything predict relative inverse
/// depth (disparity: larger = nearer); metric models (ZoeDepth…) predict distance (larger = farther).
enum class DepthOutput { disparity, distance };

/// Runs `model` on `image` (uint8 [H, W, 3]) and returns float32 [H, W] scaled to [0, 1] over the
/// picture's own range, near = 1. A constant prediction gives all zeros.
sdk::Result<at::Tensor> estimate_depth(const std::string& type, ModelRunner& model, const at::Tensor& image,
                                       const ModelSettings& settings, DepthOutput meaning);

/// Min-max scaling of a float map to [0, 1] (zeros when it is constant).
at::Tensor normalise_unit(const at::Tensor& map);

}  // namespace sdxl::cntypes
