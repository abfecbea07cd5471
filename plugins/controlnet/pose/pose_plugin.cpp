// ControlNet type "pose": body keypoints from a user-supplied OpenPose-convention model (heatmaps
// for the 18 COCO keypoints + background), drawn as the skeleton the SDXL pose ControlNets were
// trained on: limbs as filled ellipses in 60 % of the limb colour, keypoints as full-colour dots.
//
// Keypoints: the highest peak of each heatmap (after resizing it to the picture) above
// `threshold`. One person per picture: part-affinity fields, which OpenPose uses to group the
// keypoints of several people, are not used.
#include <ATen/ATen.h>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <optional>

#include "image_convert.h"
#include "model_settings.h"
#include "openpose_palette.h"
#include "plugin_info.h"
#include "sdxl/sdk/sdk.h"

namespace {

using namespace sdxl::sdk;
using namespace sdxl::cntypes;

constexpr const char* kId = "org.sdxl.controlnet.pose";

struct PoseSettings {
  double threshold;
  int stick_width, keypoint_radius;
  ModelSettings model;
};

// The keypoint heatmaps [18, h, w] among the model's outputs: an output with 19 channels (18 +
// background, e.g. the PyTorch body model's second output) or 18, else the first 18 channels of an
// output with more (the Caffe/ONNX body model concatenates 19 heatmaps and 38 affinity fields).
Result<at::Tensor> keypoint_heatmaps(const std::string& who, const std::vector<at::Tensor>& outputs) {
  for (int64_t want : {int64_t{19}, int64_t{18}}) {
    auto m = spatial_output(who, outputs, want);
    if (m.ok()) return m.value().slice(0, 0, kOpenPoseKeypoints);
  }
  auto any = spatial_output(who, outputs, 0);
  if (any.ok() && any.value().size(0) > 19) return any.value().slice(0, 0, kOpenPoseKeypoints);
  auto refusal = spatial_output(who, outputs, 19);
  return refusal.status();
}

class Pose : public ControlNetType {
 public:
  Pose(PoseSettings s, std::shared_ptr<ModelRunner> model) : s_(std::move(s)), model_(std::move(model)) {}

  Result<at::Tensor> preprocess(const at::Tensor& image, JobContext*) override {
    return guard("pose.preprocess", [&]() -> Result<at::Tensor> {
      if (auto st = check_rgb_image("pose", image); !st.ok()) return st;
      if (!model_) return missing_model("pose", kId, "OpenPose body model");
      auto outputs = model_->run(model_input(image, s_.model));
      if (!outputs.ok()) return Status(outputs.status().code(), "pose: " + outputs.status().message());
      auto heatmaps = keypoint_heatmaps("pose: " + model_->describe(), outputs.value());
      if (!heatmaps.ok()) return heatmaps.status();
      const int64_t h = image.size(0), w = image.size(1);
      at::Tensor maps = resize_maps(heatmaps.value(), h, w).view({kOpenPoseKeypoints, h * w});  // [18, H*W]
      auto [peak, where] = maps.max(1);
      std::vector<std::optional<cv::Point>> points(kOpenPoseKeypoints);
      for (int k = 0; k < kOpenPoseKeypoints; ++k) {
        if (peak[k].item<double>() < s_.threshold) continue;  // keypoint not visible
        const auto at_index = where[k].item<int64_t>();
        points[k] = cv::Point(static_cast<int>(at_index % w), static_cast<int>(at_index / w));
      }
      return tensor_from_mat(draw(points, static_cast<int>(h), static_cast<int>(w)));
    });
  }

  ControlDefaults defaults() const override {
    ControlDefaults d;
    d.needs_model_file = true;
    return d;
  }

 private:
  cv::Mat draw(const std::vector<std::optional<cv::Point>>& points, int h, int w) const {
    cv::Mat canvas = cv::Mat::zeros(h, w, CV_8UC3);  // RGB order, like the palette
    for (int i = 0; i < kOpenPoseLimbs; ++i) {
      const auto& a = points[kOpenPoseLimbPairs[i][0]];
      const auto& b = points[kOpenPoseLimbPairs[i][1]];
      if (!a || !b) continue;
      const cv::Point2d mid = (cv::Point2d(*a) + cv::Point2d(*b)) * 0.5;
      const double length = std::hypot(b->x - a->x, b->y - a->y);
      const double angle = std::atan2(b->y - a->y, b->x - a->x) * 180.0 / CV_PI;
      std::vector<cv::Point> polygon;
      cv::ellipse2Poly(cv::Point(cvRound(mid.x), cvRound(mid.y)), cv::Size(cvRound(length / 2), s_.stick_width),
                       cvRound(angle), 0, 360, 1, polygon);
      const Rgb c = kOpenPoseColours[i];
      cv::fillConvexPoly(canvas, polygon,
                         cv::Scalar(c.r * kOpenPoseLimbDim, c.g * kOpenPoseLimbDim, c.b * kOpenPoseLimbDim));
    }
    for (int k = 0; k < kOpenPoseKeypoints; ++k) {
      if (!points[k]) continue;
      const Rgb c = kOpenPoseColours[k];
      cv::circle(canvas, *points[k], s_.keypoint_radius, cv::Scalar(c.r, c.g, c.b), cv::FILLED);
    }
    return canvas;
  }

  PoseSettings s_;
  std::shared_ptr<ModelRunner> model_;
};

class PosePlugin : public Plugin {
 public:
  PosePlugin() {
    auto options = model_option_specs("OpenPose body model (heatmaps: 18 COCO keypoints + background)", 368, "unit");
    options.push_back({"threshold", OptionType::number, 0.1, 0.0, 1e6, {}, "heatmap peak below which a keypoint is absent"});
    options.push_back({"stick_width", OptionType::integer, std::int64_t{4}, 1.0, 64.0, {}, "limb half-width (pixels)"});
    options.push_back({"keypoint_radius", OptionType::integer, std::int64_t{4}, 1.0, 64.0, {}, "keypoint dot radius (pixels)"});
    info_ = controlnet_plugin_info(kId, "Pose (OpenPose skeleton)",
                                   "OpenPose skeleton control images from a user-supplied keypoint model", "pose",
                                   {"Pose", "openpose", "OpenPose"},
                                   "keypoint heatmaps of a user-supplied OpenPose body model (ONNX or TorchScript) -> "
                                   "peaks -> skeleton in the standard OpenPose limb colours (one person)",
                                   std::move(options));
  }

  const PluginInfo& info() const override { return info_; }

  Result<std::unique_ptr<ControlNetType>> create_controlnet_type(const std::string& feature, const Options& o,
                                                                 const HostServices& services) override {
    if (feature != "pose") return Plugin::create_controlnet_type(feature, o, services);
    return guard("pose.create", [&]() -> Result<std::unique_ptr<ControlNetType>> {
      PoseSettings s{o.get_number("threshold", 0.1), static_cast<int>(o.get_int("stick_width", 4)),
                     static_cast<int>(o.get_int("keypoint_radius", 4)), model_settings_from(o)};
      auto model = open_configured_model("pose", s.model, services);
      if (!model.ok()) return model.status();
      return std::unique_ptr<ControlNetType>(std::make_unique<Pose>(std::move(s), std::move(model).value()));
    });
  }

 private:
  PluginInfo info_;
};

}  // namespace

SDXL_DEFINE_PLUGIN(PosePlugin, "org.sdxl.controlnet.pose")
