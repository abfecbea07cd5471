// ControlNet type "scribble": the strokes of a drawing or the dark outlines of a photo as thick
// white lines on black, the way the scribble ControlNets were trained (XDoG-style extraction).
//
// Why a difference of Gaussians: a pixel that is darker than its wide neighbourhood (a pencil
// stroke, the dark side of an outline) has wide_blur - fine_blur > 0; thresholding that gives
// strokes that ignore flat shading, then a dilation makes them as thick as a hand scribble.
#include <ATen/ATen.h>
#include <opencv2/imgproc.hpp>

#include "image_convert.h"
#include "plugin_info.h"
#include "sdxl/sdk/sdk.h"

namespace {

using namespace sdxl::sdk;
using namespace sdxl::cntypes;

struct ScribbleSettings {
  double fine_sigma, wide_sigma, threshold;
  int thickness;
};

class Scribble : public ControlNetType {
 public:
  explicit Scribble(ScribbleSettings s) : s_(s) {}

  Result<at::Tensor> preprocess(const at::Tensor& image, JobContext*) override {
    return guard("scribble.preprocess", [&]() -> Result<at::Tensor> {
      if (auto st = check_rgb_image("scribble", image); !st.ok()) return st;
      cv::Mat grey = grey_of(image), grey_f, fine, wide;
      grey.convertTo(grey_f, CV_32F);
      cv::GaussianBlur(grey_f, fine, cv::Size(0, 0), s_.fine_sigma, 0, cv::BORDER_REPLICATE);
      cv::GaussianBlur(grey_f, wide, cv::Size(0, 0), s_.wide_sigma, 0, cv::BORDER_REPLICATE);
      cv::Mat darker = wide - fine;  // > 0 where the pixel is darker than its surroundings
      cv::Mat strokes = darker > s_.threshold;  // CV_8U, 255 on strokes
      if (s_.thickness > 1) {
        const cv::Mat disc = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(s_.thickness, s_.thickness));
        cv::dilate(strokes, strokes, disc);
      }
      return tensor_from_mat(strokes);
    });
  }

  ControlDefaults defaults() const override {
    ControlDefaults d;
    d.conditioning_scale = 0.8;  // scribbles are loose: let the prompt fill in details
    return d;
  }

 private:
  ScribbleSettings s_;
};

class ScribblePlugin : public Plugin {
 public:
  ScribblePlugin()
      : info_(controlnet_plugin_info(
            "org.sdxl.controlnet.scribble", "Scribble lines", "Scribble control images from an XDoG-style line extractor",
            "scribble", {"Scribble", "scribble_xdog", "sketch"},
            "difference of Gaussians + threshold (XDoG-style), dilated: thick white strokes on black",
            {
                {"fine_sigma", OptionType::number, 0.5, 0.1, 10.0, {}, "sigma of the fine Gaussian (pixels)"},
                {"wide_sigma", OptionType::number, 5.0, 0.2, 50.0, {}, "sigma of the wide Gaussian (pixels)"},
                {"threshold", OptionType::number, 16.0, 0.0, 255.0, {},
                 "grey levels a pixel must be darker than its surroundings to become a stroke"},
                {"thickness", OptionType::integer, std::int64_t{3}, 1.0, 31.0, {}, "stroke width after dilation (pixels)"},
            })) {}

  const PluginInfo& info() const override { return info_; }

  Result<std::unique_ptr<ControlNetType>> create_controlnet_type(const std::string& feature, const Options& o,
                                                                 const HostServices& services) override {
    if (feature != "scribble") return Plugin::create_controlnet_type(feature, o, services);
    ScribbleSettings s{o.get_number("fine_sigma", 0.5), o.get_number("wide_sigma", 5.0), o.get_number("threshold", 16.0),
                       static_cast<int>(o.get_int("thickness", 3))};
    if (s.fine_sigma >= s.wide_sigma)
      return invalid_argument("scribble: fine_sigma " + std::to_string(s.fine_sigma) + " must be below wide_sigma " +
                              std::to_string(s.wide_sigma));
    return std::unique_ptr<ControlNetType>(std::make_unique<Scribble>(s));
  }

 private:
  PluginInfo info_;
};

}  // namespace

SDXL_DEFINE_PLUGIN(ScribblePlugin, "org.sdxl.controlnet.scribble")
