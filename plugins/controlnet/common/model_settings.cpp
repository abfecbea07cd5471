#include "model_settings.h"

#include <ATen/ATen.h>
#include <opencv2/imgproc.hpp>

#include "image_convert.h"

namespace sdxl::cntypes {

std::vector<sdk::OptionSpec> model_option_specs(const std::string& what_model, std::int64_t default_resolution,
                                                const std::string& default_normalize) {
  using sdk::OptionType;
  return {
      {"model", OptionType::string, std::string{}, std::nullopt, std::nullopt, {},
       "path to the " + what_model + " (.onnx runs through OpenCV DNN; .pt/.ts/.torchscript through TorchScript)"},
      {"backend", OptionType::string, std::string{"auto"}, std::nullopt, std::nullopt, {"auto", "onnx", "torchscript"},
       "model format; auto = by file extension"},
      {"resolution", OptionType::integer, default_resolution, 0.0, 4096.0, {},
       "side of the square picture fed to the model; 0 = the picture's own size"},
      {"normalize", OptionType::string, default_normalize, std::nullopt, std::nullopt,
       {"imagenet", "symmetric", "unit", "raw"},
       "input scaling: imagenet mean/std, symmetric [-1,1], unit [0,1], raw [0,255]"},
  };
}

ModelSettings model_settings_from(const sdk::Options& o) {
  ModelSettings s;
  s.path = o.get_string("model");
  s.backend = o.get_string("backend", "auto");
  s.resolution = o.get_int("resolution", 0);
  s.normalize = o.get_string("normalize", "imagenet");
  return s;
}

sdk::Result<std::shared_ptr<ModelRunner>> open_configured_model(const std::string& type, const ModelSettings& s,
                                                                const sdk::HostServices& services) {
  if (s.path.empty()) return std::shared_ptr<ModelRunner>();
  if (s.normalize != "imagenet" && s.normalize != "symmetric" && s.normalize != "unit" && s.normalize != "raw")
    return sdk::invalid_argument(type + ": option `normalize` = '" + s.normalize + "' is not one of imagenet, symmetric, unit, raw");
  // OpenCV DNN is CPU-only here; TorchScript follows the host's device.
  return open_model(type, s.path, s.backend, services.device);
}

sdk::Status missing_model(const std::string& type, const std::string& plugin_id, const std::string& what_model) {
  return sdk::invalid_argument(
      type + ": no " + what_model + " configured: set option `model` (in [plugins.options.\"" + plugin_id +
      "\"]) to an .onnx or TorchScript file, or pass an already preprocessed control image with the unit's type "
      "set to \"none\"");
}

at::Tensor model_input(const at::Tensor& image, const ModelSettings& s) {
  at::Tensor rgb = contiguous_rgb(image);
  cv::Mat src = view_rgb(rgb);
  cv::Mat sized = src;
  if (s.resolution > 0 && (src.rows != s.resolution || src.cols != s.resolution)) {
    const bool shrink = s.resolution < src.rows || s.resolution < src.cols;
    cv::resize(src, sized, cv::Size(static_cast<int>(s.resolution), static_cast<int>(s.resolution)), 0, 0,
               shrink ? cv::INTER_AREA : cv::INTER_CUBIC);
  }
  at::Tensor hwc = tensor_from_mat(sized).to(at::kFloat);      // [R, R, 3], 0..255
  at::Tensor x = hwc.permute({2, 0, 1}).unsqueeze(0).contiguous();  // [1, 3, R, R]
  if (s.normalize == "raw") return x;
  if (s.normalize == "unit") return x / 255.0;
  if (s.normalize == "symmetric") return x / 127.5 - 1.0;
  const at::Tensor mean = at::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
  const at::Tensor std = at::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
  return (x / 255.0 - mean) / std;
}

at::Tensor resize_maps(const at::Tensor& maps, int64_t height, int64_t width) {
  at::Tensor m = maps.dim() == 2 ? maps.unsqueeze(0) : maps;  // [C, h, w]
  if (m.size(1) == height && m.size(2) == width) return m.contiguous();
  return at::upsample_bilinear2d(m.unsqueeze(0), {height, width}, /*align_corners=*/false).squeeze(0).contiguous();
}

sdk::Result<at::Tensor> spatial_output(const std::string& who, const std::vector<at::Tensor>& outputs,
                                       int64_t channels) {
  std::string seen;
  for (const at::Tensor& t : outputs) {
    at::Tensor m = t;
    if (m.dim() == 4 && m.size(0) == 1) m = m.squeeze(0);
    if (m.dim() == 2 && channels <= 1) m = m.unsqueeze(0);
    if (m.dim() == 3 && m.size(1) > 0 && m.size(2) > 0 && (channels == 0 || m.size(0) == channels)) return m;
    std::string shape = "[";
    for (int64_t i = 0; i < t.dim(); ++i) shape += (i ? ", " : "") + std::to_string(t.size(i));
    seen += (seen.empty() ? "" : ", ") + shape + "]";
  }
  return sdk::invalid_argument(who + ": the model returned " + (seen.empty() ? std::string("nothing") : seen) +
                               "; expected " +
                               (channels > 0 ? "[1, " + std::to_string(channels) + ", h, w]" : std::string("[1, C, h, w]")) +
                               " (is it the right kind of model?)");
}

}  // namespace sdxl::cntypes
