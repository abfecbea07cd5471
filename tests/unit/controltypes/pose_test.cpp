// pose with a TorchScript model whose heatmaps peak at known places: keypoints and limbs must be
// drawn there, in the OpenPose colours (keypoints full colour, limbs at 60 %).
#include <ATen/ATen.h>  // before Catch: glog (via torch) also defines CHECK
#include <catch2/catch.hpp>

#include "control_types.h"
#include "onnx_graph.h"
#include "torchscript_models.h"

namespace {

// Peaks (x, y) on a 64x64 picture: nose, neck, right shoulder, right elbow. Every other keypoint
// is absent (its heatmap stays 0, below the threshold). The model also returns 38 part-affinity
// maps first, as the OpenPose body model does; the plugin must pick the 19 heatmaps.
const char* kPoseModel =
    "    h = x.size(2)\n"
    "    w = x.size(3)\n"
    "    heat = torch.zeros([1, 19, h, w])\n"
    "    heat[0, 0, 10, 40] = 1.0\n"
    "    heat[0, 1, 24, 40] = 0.9\n"
    "    heat[0, 2, 24, 16] = 0.8\n"
    "    heat[0, 3, 48, 16] = 0.7\n"
    "    heat[0, 18] = 1.0 - heat[0, 0:18].sum(0)\n"
    "    paf = torch.zeros([1, 38, h, w])\n"
    "    return (paf, heat)\n";

}  // namespace

TEST_CASE("pose draws the OpenPose skeleton at the model's heatmap peaks", "[controltypes][pose]") {
  const auto model = cntest::save_torchscript(cntest::scratch_dir(), "pose_peaks", kPoseModel);
  auto pose = cntest::require_type("pose", {{"model", model.string()}, {"resolution", std::int64_t{0}}});
  at::Tensor out = cntest::require_control(*pose, cntest::black(64, 64));
  using cntest::rgb_at;
  // Keypoints in their own colours: nose red, neck orange, right shoulder amber, right elbow yellow.
  CHECK(rgb_at(out, 10, 40) == "255,0,0");
  CHECK(rgb_at(out, 24, 40) == "255,85,0");
  CHECK(rgb_at(out, 24, 16) == "255,170,0");
  CHECK(rgb_at(out, 48, 16) == "255,255,0");
  // Limbs at their midpoints, 60 % of the limb colour: neck-right shoulder is limb 0 (red),
  // right shoulder-elbow limb 2 (amber), neck-nose limb 12 (blue).
  CHECK(rgb_at(out, 24, 28) == "153,0,0");
  CHECK(rgb_at(out, 36, 16) == "153,102,0");
  CHECK(rgb_at(out, 17, 40) == "0,0,153");
  // Limbs are sticks a few pixels wide, not blobs: off the limb axis it is black.
  CHECK(rgb_at(out, 33, 28) == "0,0,0");
  CHECK(rgb_at(out, 36, 26) == "0,0,0");
  // No limb towards absent keypoints (left shoulder, hips…), and the background stays black.
  CHECK(rgb_at(out, 60, 60) == "0,0,0");
  CHECK(rgb_at(out, 24, 52) == "0,0,0");
  CHECK(rgb_at(out, 40, 40) == "0,0,0");
}

TEST_CASE("pose maps peaks of smaller heatmaps back to picture coordinates", "[controltypes][pose]") {
  // Heatmaps at half the input size, single peak for the nose at (x=20, y=5) -> (40, 10) area.
  const auto model = cntest::save_torchscript(cntest::scratch_dir(), "pose_half",
                                              "    heat = torch.zeros([1, 19, 32, 32])\n"
                                              "    heat[0, 0, 5, 20] = 1.0\n"
                                              "    heat[0, 0, 5, 21] = 1.0\n"
                                              "    heat[0, 0, 6, 20] = 1.0\n"
                                              "    heat[0, 0, 6, 21] = 1.0\n"
                                              "    return heat\n");
  auto pose = cntest::require_type("pose", {{"model", model.string()}, {"resolution", std::int64_t{64}}});
  at::Tensor out = cntest::require_control(*pose, cntest::black(64, 64));
  // The 2x2 peak block covers picture pixels 10..13 x 40..43; its centre is drawn red.
  CHECK(cntest::rgb_at(out, 12, 42) == "255,0,0");
  CHECK(out.select(2, 1).sum().item<int64_t>() == 0);  // only the red nose: no other keypoint
}

TEST_CASE("pose refuses a model without keypoint heatmaps, and refuses without a model", "[controltypes][pose]") {
  const auto path = cntest::scratch_dir() / "four_classes.onnx";
  cntest::write_file(path, cntest::onnx_conv1x1(3, 4, std::vector<float>(12, 0.1f), {0, 0, 0, 0}, 16, 16));
  auto pose = cntest::require_type("pose", {{"model", path.string()}, {"resolution", std::int64_t{16}}});
  auto out = pose->preprocess(cntest::black(16, 16), nullptr);
  REQUIRE_FALSE(out.ok());
  CHECK(out.status().message().find("[1, 4, 16, 16]") != std::string::npos);
  CHECK(out.status().message().find("19") != std::string::npos);

  auto none = cntest::require_type("pose");
  auto refused = none->preprocess(cntest::black(16, 16), nullptr);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("`model`") != std::string::npos);
  CHECK(none->defaults().needs_model_file);
}
