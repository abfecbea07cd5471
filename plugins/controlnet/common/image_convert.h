#pragma once
// Pictures cross the plugin boundary as uint8 tensors [H, W, 3] RGB; OpenCV wants cv::Mat.
// These helpers check the input and convert without surprises (RGB order kept, no BGR swap).

#include <ATen/core/Tensor.h>
#include <opencv2/core.hpp>

#include <string>

#include "sdxl/sdk/status.h"

namespace sdxl::cntypes {

/// Checks `image` is a defined uint8 [H, W, 3] tensor of at least 3x3 pixels. `type` names the
/// ControlNet type in the message ("scribble: expected …").
sdk::Status check_rgb_image(const std::string& type, const at::Tensor& image);

/// A contiguous CPU copy (or the tensor itself when it already is one) of a uint8 [H, W, 3] image.
at::Tensor contiguous_rgb(const at::Tensor& image);

/// cv::Mat CV_8UC3 (RGB order) viewing the buffer of a contiguous uint8 [H, W, 3] tensor.
/// The tensor must outlive the Mat.
cv::Mat view_rgb(at::Tensor& contiguous_image);

/// Grey (luminance) CV_8UC1 of a uint8 [H, W, 3] RGB image.
cv::Mat grey_of(const at::Tensor& image);

/// uint8 [H, W, 3] from a CV_8UC1 (replicated to three channels) or CV_8UC3 (RGB) Mat.
at::Tensor tensor_from_mat(const cv::Mat& mat);

/// CV_32FC1 view of a contiguous float [H, W] tensor (shares memory).
cv::Mat view_float(at::Tensor& contiguous_map);

}  // namespace sdxl::cntypes
