#include "image_convert.h"

#include <ATen/ATen.h>
#include <opencv2/imgproc.hpp>

namespace sdxl::cntypes {

sdk::Status check_rgb_image(const std::string& type, const at::Tensor& image) {
  if (!image.defined() || image.dim() != 3 || image.size(2) != 3)
    return sdk::invalid_argument(type + ": expected an RGB image [H, W, 3]");
  if (image.scalar_type() != at::kByte)
    return sdk::invalid_argument(type + ": expected uint8 pixels, got " + std::string(c10::toString(image.scalar_type())));
  if (image.size(0) < 3 || image.size(1) < 3) return sdk::invalid_argument(type + ": image smaller than 3x3");
  return {};
}

at::Tensor contiguous_rgb(const at::Tensor& image) { return image.to(at::kCPU).contiguous(); }

cv::Mat view_rgb(at::Tensor& img) {
  return cv::Mat(static_cast<int>(img.size(0)), static_cast<int>(img.size(1)), CV_8UC3, img.data_ptr<std::uint8_t>());
}

cv::Mat grey_of(const at::Tensor& image) {
  at::Tensor rgb = contiguous_rgb(image);
  cv::Mat grey;
  cv::cvtColor(view_rgb(rgb), grey, cv::COLOR_RGB2GRAY);
  return grey;
}

at::Tensor tensor_from_mat(const cv::Mat& mat) {
  at::Tensor out = at::empty({mat.rows, mat.cols, 3}, at::kByte);
  cv::Mat dst(mat.rows, mat.cols, CV_8UC3, out.data_ptr<std::uint8_t>());
  if (mat.type() == CV_8UC1)
    cv::cvtColor(mat, dst, cv::COLOR_GRAY2RGB);
  else
    mat.copyTo(dst);  // copyTo keeps `dst`'s buffer because size and type match
  return out;
}

cv::Mat view_float(at::Tensor& map) {
  return cv::Mat(static_cast<int>(map.size(0)), static_cast<int>(map.size(1)), CV_32FC1, map.data_ptr<float>());
}

}  // namespace sdxl::cntypes
