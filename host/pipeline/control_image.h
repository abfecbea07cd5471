#pragma once
// Fitting a control picture to the output size, with A1111's ControlNet resize modes:
//
//   just_resize      stretch to W x H (aspect ratio not kept)
//   crop_and_resize  scale by k = max(W/w, H/h) so the picture covers the output, centre-crop
//                    (A1111's default "Crop and Resize", "inner fit")
//   resize_and_fill  scale by k = min(W/w, H/h) so the picture fits inside, centre it on a
//                    background of the median colour of the picture's border pixels ("outer fit")
//
// Scaled sizes are round(w·k) x round(h·k), offsets floor((big − small) / 2), as A1111 does.
// Resampling: area averaging when shrinking both sides, bicubic otherwise. A binary picture
// (every value 0 or 255: edge, scribble and line maps) stays binary (thresholded at 128), since
// ControlNets for those maps were trained on hard black/white lines.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "sdxl/sdk/status.h"

namespace sdxl::pipeline {

enum class ResizeMode { just_resize, crop_and_resize, resize_and_fill };

/// Accepts "crop_and_resize", "just_resize", "resize_and_fill" and A1111's spellings
/// ("Crop and Resize", "Just Resize", "Resize and Fill"; case, spaces, '-' and '_' loose).
sdk::Result<ResizeMode> parse_resize_mode(const std::string& text);
/// Our name ("crop_and_resize") and A1111's ("Crop and Resize").
const char* resize_mode_name(ResizeMode m);
const char* resize_mode_a1111_name(ResizeMode m);

/// `picture`: uint8 [h, w, 3] (or [h, w, 1] / [h, w, 4]: grey is repeated, alpha dropped).
/// Returns uint8 [height, width, 3], contiguous, CPU. A picture already of that size is returned
/// unchanged (as RGB).
sdk::Result<at::Tensor> fit_control_image(const at::Tensor& picture, std::int64_t width, std::int64_t height,
                                          ResizeMode mode);

/// Plain resampling of uint8 [h, w, 3] to [height, width, 3] (area when shrinking both sides,
/// else bicubic; binary pictures stay binary).
at::Tensor resample_picture(const at::Tensor& rgb, std::int64_t width, std::int64_t height);

}  // namespace sdxl::pipeline
