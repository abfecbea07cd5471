// ControlNet type "lineart": thin white lines on black. By default a classic computer-vision
// extractor (NOT the learned line-art network the ControlNet authors used): either a difference
// of Gaussians (soft grey-level lines, closest in look to the learned model) or OpenCV's adaptive
// threshold (hard lines). With option `model` set, a user-supplied learned line-art model runs
// instead through the shared ONNX / TorchScript runner.
#include <ATen/ATen.h>
#include <opencv2/imgproc.hpp>

#include "image_convert.h"
#include "model_settings.h"
#include "plugin_info.h"
#include "sdxl/sdk/sdk.h"

namespace {

using namespace sdxl::sdk;
using namespace sdxl::cntypes;

constexpr const char* kId = "org.sdxl.controlnet.lineart";

struct LineartSettings {
  std::string method;  // dog | adaptive
  double fine_sigma, wide_sigma, gain, threshold;
  int block_size;
  double offset;
  bool model_lines_white;
  ModelSettings model;
};

class Lineart : public ControlNetType {
 public:
  Lineart(LineartSettings s, std::shared_ptr<ModelRunner> model) : s_(std::move(s)), model_(std::move(model)) {}

  Result<at::Tensor> preprocess(const at::Tensor& image, JobContext*) override {
    return guard("lineart.preprocess", [&]() -> Result<at::Tensor> {
      if (auto st = check_rgb_image("lineart", image); !st.ok()) return st;
      if (model_) return learned(image);
      cv::Mat grey = grey_of(image), lines;
      if (s_.method == "adaptive") {
        // Pixels darker than their local mean by more than `offset` become lines.
        cv::adaptiveThreshold(grey, lines, 255, cv::ADAPTIVE_THRESH_MEAN_C, cv::THRESH_BINARY_INV, s_.block_size, s_.offset);
      } else {
        cv::Mat grey_f, fine, wide;
        grey.convertTo(grey_f, CV_32F);
        cv::GaussianBlur(grey_f, fine, cv::Size(0, 0), s_.fine_sigma, 0, cv::BORDER_REPLICATE);
        cv::GaussianBlur(grey_f, wide, cv::Size(0, 0), s_.wide_sigma, 0, cv::BORDER_REPLICATE);
        cv::Mat strength = (wide - fine) * s_.gain;  // line darkness, soft
        cv::threshold(strength, strength, s_.threshold, 0, cv::THRESH_TOZERO);  // drop faint texture
        strength.convertTo(lines, CV_8U);  // saturates to 0..255
      }
      return tensor_from_mat(lines);
    });
  }

  ControlDefaults defaults() const override {
    ControlDefaults d;
    d.conditioning_scale = 0.8;
    d.needs_model_file = false;  // the classic extractor needs none; a model is optional
    return d;
  }

 private:
  // Learned models output one map [1, 1, h, w] in [0, 1]; the ControlNet convention is white lines.
  Result<at::Tensor> learned(const at::Tensor& image) {
    auto outputs = model_->run(model_input(image, s_.model));
    if (!outputs.ok()) return Status(outputs.status().code(), "lineart: " + outputs.status().message());
    auto map = spatial_output("lineart: " + model_->describe(), outputs.value(), 1);
    if (!map.ok()) return map.status();
    at::Tensor lines = resize_maps(map.value(), image.size(0), image.size(1)).squeeze(0).clamp(0.0, 1.0);
    if (!s_.model_lines_white) lines = 1.0 - lines;
    at::Tensor grey = (lines * 255.0).round().to(at::kByte).unsqueeze(-1);  // [H, W, 1]
    return grey.expand({image.size(0), image.size(1), 3}).contiguous();
  }

  LineartSettings s_;
  std::shared_ptr<ModelRunner> model_;
};

class LineartPlugin : public Plugin {
 public:
  LineartPlugin() {
    std::vector<OptionSpec> options = {
        {"method", OptionType::string, std::string{"dog"}, std::nullopt, std::nullopt, {"dog", "adaptive"},
         "classic extractor: difference of Gaussians (soft lines) or adaptive threshold (hard lines)"},
        {"fine_sigma", OptionType::number, 0.8, 0.1, 10.0, {}, "dog: sigma of the fine Gaussian (pixels)"},
        {"wide_sigma", OptionType::number, 1.6, 0.2, 20.0, {}, "dog: sigma of the wide Gaussian (pixels)"},
        {"gain", OptionType::number, 4.0, 0.1, 100.0, {}, "dog: line brightness per grey level of darkening"},
        {"threshold", OptionType::number, 8.0, 0.0, 255.0, {}, "dog: lines fainter than this are dropped"},
        {"block_size", OptionType::integer, std::int64_t{11}, 3.0, 255.0, {}, "adaptive: odd neighbourhood size (pixels)"},
        {"offset", OptionType::number, 8.0, -255.0, 255.0, {}, "adaptive: grey levels below the local mean for a line"},
        {"model_lines", OptionType::string, std::string{"black"}, std::nullopt, std::nullopt, {"black", "white"},
         "model: how the learned model draws lines (black on white paper, or white on black)"},
    };
    for (auto& spec : model_option_specs("learned line-art model (optional)", 512, "unit")) options.push_back(spec);
    info_ = controlnet_plugin_info(kId, "Line art (classic CV)",
                                   "Line-art control images from a classic CV extractor, or a user-supplied model",
                                   "lineart", {"Lineart", "line_art", "lineart_classic"},
                                   "classic CV, not the learned lineart model: difference of Gaussians or adaptive "
                                   "threshold, white lines on black; option `model` runs a learned line-art model instead",
                                   std::move(options));
  }

  const PluginInfo& info() const override { return info_; }

  Result<std::unique_ptr<ControlNetType>> create_controlnet_type(const std::string& feature, const Options& o,
                                                                 const HostServices& services) override {
    if (feature != "lineart") return Plugin::create_controlnet_type(feature, o, services);
    return guard("lineart.create", [&]() -> Result<std::unique_ptr<ControlNetType>> {
      LineartSettings s{o.get_string("method", "dog"), o.get_number("fine_sigma", 0.8), o.get_number("wide_sigma", 1.6),
                        o.get_number("gain", 4.0),     o.get_number("threshold", 8.0),  static_cast<int>(o.get_int("block_size", 11)),
                        o.get_number("offset", 8.0),   o.get_string("model_lines", "black") == "white",
                        model_settings_from(o)};
      if (s.method != "dog" && s.method != "adaptive")
        return invalid_argument("lineart: option `method` = '" + s.method + "' is not one of dog, adaptive");
      if (s.fine_sigma >= s.wide_sigma)
        return invalid_argument("lineart: fine_sigma must be below wide_sigma");
      if (s.block_size % 2 == 0) return invalid_argument("lineart: block_size must be odd");
      auto model = open_configured_model("lineart", s.model, services);
      if (!model.ok()) return model.status();
      return std::unique_ptr<ControlNetType>(std::make_unique<Lineart>(std::move(s), std::move(model).value()));
    });
  }

 private:
  PluginInfo info_;
};

}  // namespace

SDXL_DEFINE_PLUGIN(LineartPlugin, "org.sdxl.controlnet.lineart")
