// ControlNet type "normal": a normal map derived from depth by gradients. The depth comes either
// from a user-supplied depth model (input = "image", the default) or from the input itself when
// it already is a depth image (input = "depth": grey, near = bright). There is deliberately no
// fallback that treats a photo's brightness as depth: without a model, input = "image" refuses.
//
// Geometry: the depth image D (grey levels, near = bright) is a height field towards the viewer.
// With gx = dD/dx and gy = dD/dy in image coordinates (y down), the OpenGL-convention normal
// (x right, y up, z towards the viewer) is normalize(-s*gx, s*gy, 1), s = `strength`.
// Encoding: channel = (component * 0.5 + 0.5) * 255.
#include <ATen/ATen.h>
#include <opencv2/imgproc.hpp>

#include "depth_map.h"
#include "image_convert.h"
#include "model_settings.h"
#include "plugin_info.h"
#include "sdxl/sdk/sdk.h"

namespace {

using namespace sdxl::sdk;
using namespace sdxl::cntypes;

constexpr const char* kId = "org.sdxl.controlnet.normal";

struct NormalSettings {
  bool input_is_depth;
  bool controlnet_convention;  // red = left (lllyasviel's normal-from-depth maps) vs red = right (OpenGL)
  double strength, background_threshold;
  DepthOutput meaning;
  ModelSettings model;
};

class Normal : public ControlNetType {
 public:
  Normal(NormalSettings s, std::shared_ptr<ModelRunner> model) : s_(std::move(s)), model_(std::move(model)) {}

  Result<at::Tensor> preprocess(const at::Tensor& image, JobContext*) override {
    return guard("normal.preprocess", [&]() -> Result<at::Tensor> {
      if (auto st = check_rgb_image("normal", image); !st.ok()) return st;
      at::Tensor depth;  // float [H, W], grey levels 0..255, near = bright
      if (s_.input_is_depth) {
        cv::Mat grey = grey_of(image);
        depth = at::from_blob(grey.data, {grey.rows, grey.cols}, at::kByte).to(at::kFloat);
      } else {
        if (!model_)
          return invalid_argument(missing_model("normal", kId, "depth model").message() +
                                  "; or set option `input` = \"depth\" and pass a depth image (near = bright)");
        auto unit = estimate_depth("normal", *model_, image, s_.model, s_.meaning);
        if (!unit.ok()) return unit.status();
        depth = unit.value() * 255.0;
      }
      return encode(normals(depth.contiguous()));
    });
  }

  ControlDefaults defaults() const override {
    ControlDefaults d;
    d.needs_model_file = !s_.input_is_depth;
    return d;
  }

 private:
  // depth: float [H, W] -> unit normals [H, W, 3] (OpenGL convention).
  at::Tensor normals(at::Tensor depth) const {
    cv::Mat d = view_float(depth), gx, gy;
    // Sobel's 3x3 kernel weighs a unit slope 8 times: scale 1/8 gives grey levels per pixel.
    cv::Sobel(d, gx, CV_32F, 1, 0, 3, 1.0 / 8.0, 0.0, cv::BORDER_REPLICATE);
    cv::Sobel(d, gy, CV_32F, 0, 1, 3, 1.0 / 8.0, 0.0, cv::BORDER_REPLICATE);
    const auto h = depth.size(0), w = depth.size(1);
    at::Tensor tx = at::from_blob(gx.data, {h, w}, at::kFloat).clone();
    at::Tensor ty = at::from_blob(gy.data, {h, w}, at::kFloat).clone();
    at::Tensor n = at::stack({-s_.strength * tx, s_.strength * ty, at::ones_like(tx)}, -1);  // [H, W, 3]
    n = n / n.norm(2, -1, true);
    if (s_.background_threshold > 0) {
      // Far background (normalised depth below the threshold) becomes flat, facing the viewer.
      const at::Tensor far = (normalise_unit(depth) < s_.background_threshold).unsqueeze(-1);
      n = at::where(far, at::tensor({0.0f, 0.0f, 1.0f}).view({1, 1, 3}), n);
    }
    return n;
  }

  at::Tensor encode(at::Tensor n) const {
    if (s_.controlnet_convention) n = n * at::tensor({-1.0f, 1.0f, 1.0f}).view({1, 1, 3});
    return ((n * 0.5 + 0.5) * 255.0).round().clamp(0, 255).to(at::kByte).contiguous();
  }

  NormalSettings s_;
  std::shared_ptr<ModelRunner> model_;
};

class NormalPlugin : public Plugin {
 public:
  NormalPlugin() {
    std::vector<OptionSpec> options = {
        {"input", OptionType::string, std::string{"image"}, std::nullopt, std::nullopt, {"image", "depth"},
         "image: estimate depth with `model` first; depth: the input already is a depth image (grey, near = bright)"},
        {"convention", OptionType::string, std::string{"controlnet"}, std::nullopt, std::nullopt, {"controlnet", "opengl"},
         "controlnet: red = left, green = up, blue = towards viewer (ControlNet normal-from-depth maps); "
         "opengl: red = right, green = up, blue = towards viewer"},
        {"strength", OptionType::number, 1.0, 0.0, 1000.0, {}, "slope scale: a slope of 1/strength grey levels per pixel tilts the normal 45 degrees"},
        {"background_threshold", OptionType::number, 0.0, 0.0, 1.0, {},
         "normalised depth below which the surface is treated as flat background; 0 = off"},
        {"output", OptionType::string, std::string{"disparity"}, std::nullopt, std::nullopt, {"disparity", "distance"},
         "what the depth model predicts (see the depth type)"},
    };
    for (auto& spec : model_option_specs("depth model (for input = \"image\")", 384, "imagenet")) options.push_back(spec);
    info_ = controlnet_plugin_info(kId, "Normal map (from depth)",
                                   "Normal-map control images from depth gradients", "normal",
                                   {"Normal", "normal_map", "normal_from_depth"},
                                   "Sobel gradients of a depth map (a depth model's, or a depth image given as input) "
                                   "encoded as an RGB normal map",
                                   std::move(options));
  }

  const PluginInfo& info() const override { return info_; }

  Result<std::unique_ptr<ControlNetType>> create_controlnet_type(const std::string& feature, const Options& o,
                                                                 const HostServices& services) override {
    if (feature != "normal") return Plugin::create_controlnet_type(feature, o, services);
    return guard("normal.create", [&]() -> Result<std::unique_ptr<ControlNetType>> {
      NormalSettings s{o.get_string("input", "image") == "depth",
                       o.get_string("convention", "controlnet") == "controlnet",
                       o.get_number("strength", 1.0),
                       o.get_number("background_threshold", 0.0),
                       o.get_string("output", "disparity") == "distance" ? DepthOutput::distance : DepthOutput::disparity,
                       model_settings_from(o)};
      std::shared_ptr<ModelRunner> model;
      if (!s.input_is_depth) {
        auto opened = open_configured_model("normal", s.model, services);
        if (!opened.ok()) return opened.status();
        model = std::move(opened).value();
      }
      return std::unique_ptr<ControlNetType>(std::make_unique<Normal>(std::move(s), std::move(model)));
    });
  }

 private:
  PluginInfo info_;
};

}  // namespace

SDXL_DEFINE_PLUGIN(NormalPlugin, "org.sdxl.controlnet.normal")
