// ControlNet type "segmentation": per-pixel classes from a user-supplied ADE20K segmentation model
// (UperNet, SegFormer, OneFormer… exported to ONNX or TorchScript, returning class logits
// [1, C, h, w]), painted with the ADE20K colour table the segmentation ControlNets were trained on.
// The logits are resized to the picture before the argmax, so class borders stay smooth.
#include <ATen/ATen.h>

#include <cstring>

#include "ade20k_palette.h"
#include "image_convert.h"
#include "model_settings.h"
#include "plugin_info.h"
#include "sdxl/sdk/sdk.h"

namespace {

using namespace sdxl::sdk;
using namespace sdxl::cntypes;

constexpr const char* kId = "org.sdxl.controlnet.segmentation";

struct SegmentationSettings {
  std::int64_t label_offset;  // 1 for 151-class models whose class 0 is "other"
  ModelSettings model;
};

class Segmentation : public ControlNetType {
 public:
  Segmentation(SegmentationSettings s, std::shared_ptr<ModelRunner> model) : s_(std::move(s)), model_(std::move(model)) {}

  Result<at::Tensor> preprocess(const at::Tensor& image, JobContext*) override {
    return guard("segmentation.preprocess", [&]() -> Result<at::Tensor> {
      if (auto st = check_rgb_image("segmentation", image); !st.ok()) return st;
      if (!model_) return missing_model("segmentation", kId, "segmentation model");
      auto outputs = model_->run(model_input(image, s_.model));
      if (!outputs.ok()) return Status(outputs.status().code(), "segmentation: " + outputs.status().message());
      auto logits = spatial_output("segmentation: " + model_->describe(), outputs.value(), 0);  // [C, h, w]
      if (!logits.ok()) return logits.status();
      if (logits.value().size(0) < 2)
        return invalid_argument("segmentation: " + model_->describe() +
                                " returned a single channel; expected per-class logits [1, C, h, w] (is it a segmentation model?)");
      const int64_t h = image.size(0), w = image.size(1);
      at::Tensor classes = resize_maps(logits.value(), h, w).argmax(0) - s_.label_offset;  // [H, W]
      // Palette lookup: row `class` of a [151, 3] table whose last row (black) takes every class
      // outside the palette (negative after the offset, or beyond 150).
      at::Tensor table = at::zeros({kAde20kClasses + 1, 3}, at::kByte);
      std::memcpy(table.data_ptr<std::uint8_t>(), kAde20kPalette.data(), sizeof(kAde20kPalette));
      at::Tensor index = at::where((classes >= 0) & (classes < kAde20kClasses), classes,
                                   at::full_like(classes, kAde20kClasses));
      return table.index_select(0, index.flatten()).view({h, w, 3}).contiguous();
    });
  }

  ControlDefaults defaults() const override {
    ControlDefaults d;
    d.needs_model_file = true;
    return d;
  }

 private:
  SegmentationSettings s_;
  std::shared_ptr<ModelRunner> model_;
};

class SegmentationPlugin : public Plugin {
 public:
  SegmentationPlugin() {
    auto options = model_option_specs("ADE20K segmentation model (class logits [1, C, h, w])", 512, "imagenet");
    options.push_back({"label_offset", OptionType::integer, std::int64_t{0}, 0.0, 1.0, {},
                       "1 for 151-class models whose class 0 is 'other' (painted black); 0 for the 150 ADE20K classes"});
    info_ = controlnet_plugin_info(kId, "Segmentation (ADE20K)",
                                   "ADE20K segmentation control images from a user-supplied model", "segmentation",
                                   {"Segmentation", "seg", "ade20k"},
                                   "class logits of a user-supplied segmentation model (ONNX or TorchScript) -> argmax -> "
                                   "ADE20K palette",
                                   std::move(options));
  }

  const PluginInfo& info() const override { return info_; }

  Result<std::unique_ptr<ControlNetType>> create_controlnet_type(const std::string& feature, const Options& o,
                                                                 const HostServices& services) override {
    if (feature != "segmentation") return Plugin::create_controlnet_type(feature, o, services);
    return guard("segmentation.create", [&]() -> Result<std::unique_ptr<ControlNetType>> {
      SegmentationSettings s{o.get_int("label_offset", 0), model_settings_from(o)};
      auto model = open_configured_model("segmentation", s.model, services);
      if (!model.ok()) return model.status();
      return std::unique_ptr<ControlNetType>(std::make_unique<Segmentation>(std::move(s), std::move(model).value()));
    });
  }

 private:
  PluginInfo info_;
};

}  // namespace

SDXL_DEFINE_PLUGIN(SegmentationPlugin, "org.sdxl.controlnet.segmentation")
