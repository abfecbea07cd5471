// ControlNet type "canny": edges by cv::Canny on the grey image, as the SDXL canny ControlNets
// were trained on (white edges on black, replicated to 3 channels).
#include <ATen/ATen.h>
#include <opencv2/imgproc.hpp>

#include "sdxl/sdk/sdk.h"

namespace {

using namespace sdxl::sdk;

Status check_image(const at::Tensor& image) {
  if (!image.defined() || image.dim() != 3 || image.size(2) != 3)
    return invalid_argument("canny: expected an RGB image [H, W, 3]");
  if (image.scalar_type() != at::kByte) return invalid_argument("canny: expected uint8 pixels");
  if (image.size(0) < 3 || image.size(1) < 3) return invalid_argument("canny: image smaller than 3x3");
  return {};
}

class Canny : public ControlNetType {
 public:
  Canny(int low, int high, int aperture, bool l2) : low_(low), high_(high), aperture_(aperture), l2_(l2) {}

  Result<at::Tensor> preprocess(const at::Tensor& image, JobContext*) override {
    return guard("canny.preprocess", [&]() -> Result<at::Tensor> {
      if (auto st = check_image(image); !st.ok()) return st;
      at::Tensor rgb = image.to(at::kCPU).contiguous();
      // Wrap without copying: cv::Mat over the tensor's buffer, rows of W*3 bytes.
      cv::Mat src(static_cast<int>(rgb.size(0)), static_cast<int>(rgb.size(1)), CV_8UC3, rgb.data_ptr<std::uint8_t>());
      cv::Mat grey, edges;
      cv::cvtColor(src, grey, cv::COLOR_RGB2GRAY);
      cv::Canny(grey, edges, low_, high_, aperture_, l2_);
      at::Tensor out = at::empty({rgb.size(0), rgb.size(1), 3}, at::kByte);
      cv::Mat dst(edges.rows, edges.cols, CV_8UC3, out.data_ptr<std::uint8_t>());
      cv::cvtColor(edges, dst, cv::COLOR_GRAY2RGB);
      return out;
    });
  }

  ControlDefaults defaults() const override {
    ControlDefaults d;
    d.conditioning_scale = 0.5;  // what the diffusers SDXL canny examples recommend
    return d;
  }

 private:
  int low_, high_, aperture_;
  bool l2_;
};

class CannyPlugin : public Plugin {
 public:
  CannyPlugin() {
    info_.id = "org.sdxl.controlnet.canny";
    info_.name = "Canny edges";
    info_.version = "1.0.0";
    info_.vendor = "sdxl-worker";
    info_.license = "Apache-2.0";
    info_.description = "Control images from OpenCV's Canny edge detector";
    FeatureInfo f;
    f.kind = FeatureKind::controlnet_type;
    f.name = "canny";
    f.aliases = {"Canny", "canny_edge"};
    f.description = "cv::Canny on the grey image; white edges on black";
    f.options = {
        {"low_threshold", OptionType::integer, std::int64_t{100}, 0.0, 255.0, {}, "hysteresis low threshold"},
        {"high_threshold", OptionType::integer, std::int64_t{200}, 0.0, 255.0, {}, "hysteresis high threshold"},
        {"aperture", OptionType::integer, std::int64_t{3}, 3.0, 7.0, {}, "Sobel aperture: 3, 5 or 7"},
        {"l2_gradient", OptionType::boolean, false, std::nullopt, std::nullopt, {}, "use the L2 gradient norm"},
    };
    info_.features.push_back(std::move(f));
  }

  const PluginInfo& info() const override { return info_; }

  Result<std::unique_ptr<ControlNetType>> create_controlnet_type(const std::string& feature, const Options& o,
                                                                 const HostServices&) override {
    if (feature != "canny") return Plugin::create_controlnet_type(feature, o, {});
    const auto low = o.get_int("low_threshold", 100), high = o.get_int("high_threshold", 200);
    const auto aperture = o.get_int("aperture", 3);
    if (low > high) return invalid_argument("canny: low_threshold " + std::to_string(low) + " > high_threshold " + std::to_string(high));
    if (aperture % 2 == 0) return invalid_argument("canny: aperture must be 3, 5 or 7");
    return std::unique_ptr<ControlNetType>(
        std::make_unique<Canny>(static_cast<int>(low), static_cast<int>(high), static_cast<int>(aperture), o.get_bool("l2_gradient")));
  }

 private:
  PluginInfo info_;
};

}  // namespace

SDXL_DEFINE_PLUGIN(CannyPlugin, "org.sdxl.controlnet.canny")
