#include "pipeline/control_image.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace sdxl::pipeline {
namespace {

std::string loose(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != ' ' && c != '_' && c != '-') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::int64_t round_size(double x) { return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::llround(x))); }

// Per-channel median of the border pixels (numpy's median: mean of the two middle values for an
// even count, truncated to uint8 as A1111's astype does). rgb: uint8 [h, w, 3] -> uint8 [3].
at::Tensor border_median(const at::Tensor& rgb) {
  const std::int64_t h = rgb.size(0), w = rgb.size(1);
  at::Tensor border = at::cat({rgb.select(0, 0), rgb.select(0, h - 1), rgb.select(1, 0), rgb.select(1, w - 1)}, 0);
  at::Tensor sorted = std::get<0>(border.to(at::kFloat).sort(0));  // [n, 3]
  const std::int64_t n = sorted.size(0);
  at::Tensor mid = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return mid.floor().to(at::kByte);
}

}  // namespace

sdk::Result<ResizeMode> parse_resize_mode(const std::string& text) {
  const std::string k = loose(text);
  if (k.empty() || k == "cropandresize" || k == "innerfit" || k == "crop") return ResizeMode::crop_and_resize;
  if (k == "justresize" || k == "resize" || k == "stretch") return ResizeMode::just_resize;
  if (k == "resizeandfill" || k == "outerfit" || k == "fill") return ResizeMode::resize_and_fill;
  return sdk::invalid_argument("unknown resize mode '" + text + "' (crop_and_resize, just_resize or resize_and_fill)");
}

const char* resize_mode_name(ResizeMode m) {
  switch (m) {
    case ResizeMode::just_resize: return "just_resize";
    case ResizeMode::crop_and_resize: return "crop_and_resize";
    case ResizeMode::resize_and_fill: return "resize_and_fill";
  }
  return "crop_and_resize";
}

const char* resize_mode_a1111_name(ResizeMode m) {
  switch (m) {
    case ResizeMode::just_resize: return "Just Resize";
    case ResizeMode::crop_and_resize: return "Crop and Resize";
    case ResizeMode::resize_and_fill: return "Resize and Fill";
  }
  return "Crop and Resize";
}

at::Tensor resample_picture(const at::Tensor& rgb, std::int64_t width, std::int64_t height) {
  if (rgb.size(0) == height && rgb.size(1) == width) return rgb.contiguous();
  const bool binary = ((rgb == 0) | (rgb == 255)).all().item<bool>();
  at::Tensor x = rgb.to(at::kFloat).permute({2, 0, 1}).unsqueeze(0);  // [1, 3, h, w]
  const bool shrink = height <= rgb.size(0) && width <= rgb.size(1);
  at::Tensor y = shrink ? at::adaptive_avg_pool2d(x, {height, width})
                        : at::upsample_bicubic2d(x, {height, width}, /*align_corners=*/false);
  y = binary ? (y >= 127.5).to(at::kFloat) * 255 : y.round().clamp(0, 255);
  return y.squeeze(0).permute({1, 2, 0}).to(at::kByte).contiguous();
}

sdk::Result<at::Tensor> fit_control_image(const at::Tensor& picture, std::int64_t width, std::int64_t height,
                                          ResizeMode mode) {
  if (!picture.defined() || picture.dim() != 3 || picture.size(0) < 1 || picture.size(1) < 1)
    return sdk::invalid_argument("control picture must be [H, W, C] pixels");
  if (picture.scalar_type() != at::kByte) return sdk::invalid_argument("control picture must be uint8");
  if (width < 1 || height < 1) return sdk::invalid_argument("control picture target size must be positive");
  at::Tensor rgb;
  switch (picture.size(2)) {
    case 1: rgb = picture.expand({picture.size(0), picture.size(1), 3}); break;
    case 2: rgb = picture.slice(2, 0, 1).expand({picture.size(0), picture.size(1), 3}); break;  // grey + alpha
    case 3: rgb = picture; break;
    case 4: rgb = picture.slice(2, 0, 3); break;
    default: return sdk::invalid_argument("control picture has " + std::to_string(picture.size(2)) + " channels");
  }
  rgb = rgb.cpu().contiguous();
  const std::int64_t h = rgb.size(0), w = rgb.size(1);
  if (h == height && w == width) return rgb;
  if (mode == ResizeMode::just_resize) return resample_picture(rgb, width, height);

  const double kw = static_cast<double>(width) / w, kh = static_cast<double>(height) / h;
  if (mode == ResizeMode::crop_and_resize) {
    const double k = std::max(kw, kh);
    const std::int64_t nw = std::max(width, round_size(w * k)), nh = std::max(height, round_size(h * k));
    at::Tensor big = resample_picture(rgb, nw, nh);
    const std::int64_t top = (nh - height) / 2, left = (nw - width) / 2;
    return big.slice(0, top, top + height).slice(1, left, left + width).contiguous();
  }
  // resize_and_fill
  const double k = std::min(kw, kh);
  const std::int64_t nw = std::min(width, round_size(w * k)), nh = std::min(height, round_size(h * k));
  at::Tensor small = resample_picture(rgb, nw, nh);
  at::Tensor out = border_median(rgb).view({1, 1, 3}).expand({height, width, 3}).contiguous();
  const std::int64_t top = (height - nh) / 2, left = (width - nw) / 2;
  out.slice(0, top, top + nh).slice(1, left, left + nw).copy_(small);
  return out;
}

}  // namespace sdxl::pipeline
