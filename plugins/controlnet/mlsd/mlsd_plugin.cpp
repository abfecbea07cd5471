// ControlNet type "mlsd": the straight line segments of a picture (walls, furniture, buildings)
// drawn as white lines on black, as the M-LSD ControlNets were trained. The segments come from
// classic detectors, not the learned M-LSD network: OpenCV's line segment detector (LSD,
// sub-pixel, no parameters to tune) by default, or Canny + probabilistic Hough.
#include <ATen/ATen.h>
#include <opencv2/imgproc.hpp>

#include <cmath>

#include "image_convert.h"
#include "plugin_info.h"
#include "sdxl/sdk/sdk.h"

namespace {

using namespace sdxl::sdk;
using namespace sdxl::cntypes;

struct MlsdSettings {
  std::string detector;  // lsd | hough
  double min_length;
  int thickness;
  int canny_low, canny_high, hough_votes;
  double max_gap;
};

class Mlsd : public ControlNetType {
 public:
  explicit Mlsd(MlsdSettings s) : s_(std::move(s)) {}

  Result<at::Tensor> preprocess(const at::Tensor& image, JobContext*) override {
    return guard("mlsd.preprocess", [&]() -> Result<at::Tensor> {
      if (auto st = check_rgb_image("mlsd", image); !st.ok()) return st;
      cv::Mat grey = grey_of(image);
      std::vector<cv::Vec4f> segments;  // x1, y1, x2, y2
      if (s_.detector == "hough") {
        cv::Mat edges;
        cv::Canny(grey, edges, s_.canny_low, s_.canny_high);
        std::vector<cv::Vec4i> found;
        cv::HoughLinesP(edges, found, 1.0, CV_PI / 180.0, s_.hough_votes, s_.min_length, s_.max_gap);
        for (const auto& l : found) segments.emplace_back(l[0], l[1], l[2], l[3]);
      } else {
        cv::Ptr<cv::LineSegmentDetector> lsd = cv::createLineSegmentDetector(cv::LSD_REFINE_STD);
        lsd->detect(grey, segments);
      }
      cv::Mat canvas = cv::Mat::zeros(grey.size(), CV_8UC1);
      for (const auto& l : segments) {
        if (std::hypot(l[2] - l[0], l[3] - l[1]) < s_.min_length) continue;  // texture, not structure
        cv::line(canvas, cv::Point(cvRound(l[0]), cvRound(l[1])), cv::Point(cvRound(l[2]), cvRound(l[3])),
                 cv::Scalar(255), s_.thickness, cv::LINE_8);
      }
      return tensor_from_mat(canvas);
    });
  }

 private:
  MlsdSettings s_;
};

class MlsdPlugin : public Plugin {
 public:
  MlsdPlugin()
      : info_(controlnet_plugin_info(
            "org.sdxl.controlnet.mlsd", "Straight lines (M-LSD style)",
            "M-LSD style control images from OpenCV's line segment detector or Hough transform", "mlsd",
            {"MLSD", "M-LSD", "straight_lines"},
            "straight line segments (cv::LineSegmentDetector or HoughLinesP, classic CV, not the learned M-LSD "
            "model), white lines on black",
            {
                {"detector", OptionType::string, std::string{"lsd"}, std::nullopt, std::nullopt, {"lsd", "hough"},
                 "lsd: OpenCV's line segment detector; hough: Canny edges + probabilistic Hough"},
                {"min_length", OptionType::number, 16.0, 0.0, 4096.0, {}, "segments shorter than this (pixels) are dropped"},
                {"thickness", OptionType::integer, std::int64_t{1}, 1.0, 16.0, {}, "drawn line width (pixels)"},
                {"canny_low", OptionType::integer, std::int64_t{50}, 0.0, 255.0, {}, "hough: Canny low threshold"},
                {"canny_high", OptionType::integer, std::int64_t{150}, 0.0, 255.0, {}, "hough: Canny high threshold"},
                {"hough_votes", OptionType::integer, std::int64_t{40}, 1.0, 10000.0, {}, "hough: accumulator votes for a line"},
                {"max_gap", OptionType::number, 4.0, 0.0, 1000.0, {}, "hough: largest gap (pixels) bridged within a segment"},
            })) {}

  const PluginInfo& info() const override { return info_; }

  Result<std::unique_ptr<ControlNetType>> create_controlnet_type(const std::string& feature, const Options& o,
                                                                 const HostServices& services) override {
    if (feature != "mlsd") return Plugin::create_controlnet_type(feature, o, services);
    MlsdSettings s{o.get_string("detector", "lsd"),
                   o.get_number("min_length", 16.0),
                   static_cast<int>(o.get_int("thickness", 1)),
                   static_cast<int>(o.get_int("canny_low", 50)),
                   static_cast<int>(o.get_int("canny_high", 150)),
                   static_cast<int>(o.get_int("hough_votes", 40)),
                   o.get_number("max_gap", 4.0)};
    if (s.detector != "lsd" && s.detector != "hough")
      return invalid_argument("mlsd: option `detector` = '" + s.detector + "' is not one of lsd, hough");
    if (s.canny_low > s.canny_high) return invalid_argument("mlsd: canny_low > canny_high");
    return std::unique_ptr<ControlNetType>(std::make_unique<Mlsd>(std::move(s)));
  }

 private:
  PluginInfo info_;
};

}  // namespace

SDXL_DEFINE_PLUGIN(MlsdPlugin, "org.sdxl.controlnet.mlsd")
