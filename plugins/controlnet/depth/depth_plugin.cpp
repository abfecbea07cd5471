// ControlNet type "depth": a learned monocular depth estimator (MiDaS / DPT / Depth-Anything
// family, exported by the user to ONNX or TorchScript) turned into the grey depth image the SDXL
// depth ControlNets were trained on: min-max normalised over the picture, near = bright.
#include <ATen/ATen.h>

#include "depth_map.h"
#include "image_convert.h"
#include "model_settings.h"
#include "plugin_info.h"
#include "sdxl/sdk/sdk.h"

namespace {

using namespace sdxl::sdk;
using namespace sdxl::cntypes;

constexpr const char* kId = "org.sdxl.controlnet.depth";

class Depth : public ControlNetType {
 public:
  Depth(ModelSettings s, DepthOutput meaning, std::shared_ptr<ModelRunner> model)
      : s_(std::move(s)), meaning_(meaning), model_(std::move(model)) {}

  Result<at::Tensor> preprocess(const at::Tensor& image, JobContext*) override {
    return guard("depth.preprocess", [&]() -> Result<at::Tensor> {
      if (auto st = check_rgb_image("depth", image); !st.ok()) return st;
      if (!model_) return missing_model("depth", kId, "depth model");
      auto depth = estimate_depth("depth", *model_, image, s_, meaning_);  // [H, W] in [0, 1], near = 1
      if (!depth.ok()) return depth.status();
      at::Tensor grey = (depth.value() * 255.0).round().to(at::kByte).unsqueeze(-1);  // [H, W, 1]
      return grey.expand({image.size(0), image.size(1), 3}).contiguous();
    });
  }

  ControlDefaults defaults() const override {
    ControlDefaults d;
    d.conditioning_scale = 0.5;  // what the diffusers SDXL depth examples recommend
    d.needs_model_file = true;
    return d;
  }

 private:
  ModelSettings s_;
  DepthOutput meaning_;
  std::shared_ptr<ModelRunner> model_;
};

class DepthPlugin : public Plugin {
 public:
  DepthPlugin() {
    auto options = model_option_specs("depth model (MiDaS, DPT, Depth-Anything… exported to ONNX or TorchScript)", 384,
                                      "imagenet");
    options.push_back({"output", OptionType::string, std::string{"disparity"}, std::nullopt, std::nullopt,
                       {"disparity", "distance"},
                       "what the model predicts: disparity / inverse depth (MiDaS, DPT, Depth-Anything: larger = "
                       "nearer) or distance (metric models: larger = farther)"});
    info_ = controlnet_plugin_info(kId, "Depth (learned model)",
                                   "Depth control images from a user-supplied depth model", "depth",
                                   {"Depth", "depth_midas", "depth_anything"},
                                   "learned depth estimator (ONNX via OpenCV DNN or TorchScript) from option `model`, "
                                   "normalised to 0..255 with near = bright",
                                   std::move(options));
  }

  const PluginInfo& info() const override { return info_; }

  Result<std::unique_ptr<ControlNetType>> create_controlnet_type(const std::string& feature, const Options& o,
                                                                 const HostServices& services) override {
    if (feature != "depth") return Plugin::create_controlnet_type(feature, o, services);
    return guard("depth.create", [&]() -> Result<std::unique_ptr<ControlNetType>> {
      ModelSettings s = model_settings_from(o);
      auto model = open_configured_model("depth", s, services);
      if (!model.ok()) return model.status();
      const DepthOutput meaning = o.get_string("output", "disparity") == "distance" ? DepthOutput::distance : DepthOutput::disparity;
      return std::unique_ptr<ControlNetType>(std::make_unique<Depth>(std::move(s), meaning, std::move(model).value()));
    });
  }

 private:
  PluginInfo info_;
};

}  // namespace

SDXL_DEFINE_PLUGIN(DepthPlugin, "org.sdxl.controlnet.depth")
