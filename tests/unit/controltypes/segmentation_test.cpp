// segmentation with a hand-encoded ONNX model (OpenCV DNN) and a TorchScript model whose class
// logits are known: every pixel must get the ADE20K colour of its argmax class.
#include <ATen/ATen.h>  // before Catch: glog (via torch) also defines CHECK
#include <catch2/catch.hpp>

#include "control_types.h"
#include "onnx_graph.h"
#include "torchscript_models.h"

TEST_CASE("segmentation (ONNX) paints the argmax classes with the ADE20K palette", "[controltypes][segmentation]") {
  // Logits: class k = channel k for k < 3 (red, green, blue), class 3 = constant 100. With raw
  // 0..255 input a saturated primary wins its class, black falls to class 3.
  std::vector<float> weights = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0};  // [4, 3]
  const auto path = cntest::scratch_dir() / "seg.onnx";
  cntest::write_file(path, cntest::onnx_conv1x1(3, 4, weights, {0, 0, 0, 100}, 32, 48));
  at::Tensor img = cntest::black(32, 48);
  img.slice(1, 0, 12).select(2, 0).fill_(255);   // red strip    -> class 0 wall      120,120,120
  img.slice(1, 12, 24).select(2, 1).fill_(255);  // green strip  -> class 1 building  180,120,120
  img.slice(1, 24, 36).select(2, 2).fill_(255);  // blue strip   -> class 2 sky       6,230,230
                                                 // black strip  -> class 3 floor     80,50,50
  auto seg = cntest::require_type("segmentation", {{"model", path.string()}, {"resolution", std::int64_t{0}},
                                                   {"normalize", std::string("raw")}});
  at::Tensor out = cntest::require_control(*seg, img);
  CHECK(cntest::rgb_at(out, 16, 5) == "120,120,120");
  CHECK(cntest::rgb_at(out, 3, 17) == "180,120,120");
  CHECK(cntest::rgb_at(out, 30, 30) == "6,230,230");
  CHECK(cntest::rgb_at(out, 10, 45) == "80,50,50");
  // Every pixel of a strip has the same colour.
  CHECK(at::equal(out.slice(1, 0, 12), out[0][0].view({1, 1, 3}).expand({32, 12, 3})));
  CHECK(cntest::require_type("segmentation")->defaults().needs_model_file);
}

TEST_CASE("segmentation (TorchScript) with high class numbers and the label offset", "[controltypes][segmentation]") {
  // 151 logits, left half class 149, right half class 150.
  const auto model = cntest::save_torchscript(cntest::scratch_dir(), "seg151",
                                              "    h = x.size(2)\n"
                                              "    w = x.size(3)\n"
                                              "    logits = torch.zeros([1, 151, h, w])\n"
                                              "    half = w // 2\n"
                                              "    logits[0, 149, :, 0:half] = 5.0\n"
                                              "    logits[0, 150, :, half:w] = 5.0\n"
                                              "    return logits\n");
  // Offset 0: class 149 is the palette's last entry (92,0,255); 150 is outside the palette (black).
  auto plain = cntest::require_type("segmentation", {{"model", model.string()}, {"resolution", std::int64_t{0}}});
  at::Tensor out = cntest::require_control(*plain, cntest::black(16, 32));
  CHECK(cntest::rgb_at(out, 8, 4) == "92,0,255");
  CHECK(cntest::rgb_at(out, 8, 28) == "0,0,0");
  // Offset 1 (151-class models, 0 = other): 149 -> palette 148 (102,255,0), 150 -> 149.
  auto shifted = cntest::require_type("segmentation", {{"model", model.string()}, {"resolution", std::int64_t{0}},
                                                       {"label_offset", std::int64_t{1}}});
  at::Tensor out2 = cntest::require_control(*shifted, cntest::black(16, 32));
  CHECK(cntest::rgb_at(out2, 8, 4) == "102,255,0");
  CHECK(cntest::rgb_at(out2, 8, 28) == "92,0,255");
}

TEST_CASE("segmentation refuses a single-map model and works without one only by refusing", "[controltypes][segmentation]") {
  const auto model = cntest::save_torchscript(cntest::scratch_dir(), "one_map", "    return x[:, 0:1] * 1.0\n");
  auto seg = cntest::require_type("segmentation", {{"model", model.string()}, {"resolution", std::int64_t{0}}});
  auto out = seg->preprocess(cntest::black(16, 16), nullptr);
  REQUIRE_FALSE(out.ok());
  CHECK(out.status().message().find("single channel") != std::string::npos);
  auto none = cntest::require_type("segmentation")->preprocess(cntest::black(16, 16), nullptr);
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message().find("`model`") != std::string::npos);
}
