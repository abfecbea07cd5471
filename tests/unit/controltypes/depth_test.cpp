// depth with real model files created by the test: TorchScript modules saved from C++ and a
// hand-encoded ONNX graph run through OpenCV DNN.
#include <ATen/ATen.h>  // before Catch: glog (via torch) also defines CHECK
#include <catch2/catch.hpp>

#include "control_types.h"
#include "onnx_graph.h"
#include "torchscript_models.h"

namespace {

std::map<std::string, sdxl::sdk::OptionValue> with_model(const std::filesystem::path& p,
                                                         std::map<std::string, sdxl::sdk::OptionValue> more = {}) {
  more["model"] = p.string();
  return more;
}

}  // namespace

TEST_CASE("depth (TorchScript) normalises a model's disparity ramp to 0..255, near = bright", "[controltypes][depth]") {
  // The model predicts disparity 3*x + 7 whatever the picture: larger = nearer.
  const auto model = cntest::save_torchscript(cntest::scratch_dir(), "depth_ramp",
                                              "    w = x.size(3)\n"
                                              "    ramp = (torch.arange(w) * 1.0).view(1, 1, 1, w)\n"
                                              "    return ramp.expand(1, 1, x.size(2), w) * 3.0 + 7.0\n");
  const int64_t h = 40, w = 64;
  auto depth = cntest::require_type("depth", with_model(model, {{"resolution", std::int64_t{0}}}));
  at::Tensor out = cntest::require_control(*depth, cntest::black(h, w));
  // Min-max over the picture: column c -> 255 * c / (w - 1).
  at::Tensor want = (at::arange(w, at::kDouble) * 255.0 / (w - 1)).round().view({1, w}).expand({h, w});
  for (int c = 0; c < 3; ++c) CHECK(at::allclose(out.select(2, c).to(at::kDouble), want, 0, 0.5));
  CHECK(depth->defaults().needs_model_file);

  // The same model read as distance (larger = farther): the ramp flips.
  auto distance = cntest::require_type("depth", with_model(model, {{"resolution", std::int64_t{0}}, {"output", std::string("distance")}}));
  at::Tensor flipped = cntest::require_control(*distance, cntest::black(h, w));
  CHECK(at::allclose(flipped.select(2, 0).to(at::kDouble), 255.0 - want, 0, 0.5));
}

TEST_CASE("depth (TorchScript) feeds the picture as RGB [1, 3, H, W] scaled by `normalize`", "[controltypes][depth]") {
  // The model returns its red input channel: the output must follow the picture's red rows.
  const auto model = cntest::save_torchscript(cntest::scratch_dir(), "depth_red", "    return x[:, 0:1, :, :] * 2.0\n");
  const int64_t h = 32, w = 24;
  at::Tensor img = cntest::black(h, w);
  img.select(2, 0).copy_((at::arange(h) * 4).view({h, 1}).expand({h, w}));   // red: rows 0, 4, …, 124
  img.select(2, 1).copy_((at::arange(w) * 10).view({1, w}).expand({h, w}));  // green: columns
  img.select(2, 2).fill_(200);
  auto depth = cntest::require_type("depth", with_model(model, {{"resolution", std::int64_t{0}}, {"normalize", std::string("unit")}}));
  at::Tensor out = cntest::require_control(*depth, img);
  at::Tensor want = (at::arange(h, at::kDouble) * 255.0 / (h - 1)).round().view({h, 1}).expand({h, w});
  CHECK(at::allclose(out.select(2, 0).to(at::kDouble), want, 0, 0.5));
}

TEST_CASE("depth (ONNX via OpenCV DNN) runs a 1x1 convolution model, resized both ways", "[controltypes][depth]") {
  // y = 0.5 * red + 0 * green + 0 * blue + 1: bright red = near.
  const int res = 32;
  const auto path = cntest::scratch_dir() / "depth_conv.onnx";
  cntest::write_file(path, cntest::onnx_conv1x1(3, 1, {0.5f, 0.0f, 0.0f}, {1.0f}, res, res));
  at::Tensor img = cntest::black(48, 64);
  img.slice(1, 32, 64).select(2, 0).fill_(250);  // right half red
  img.slice(1, 0, 32).select(2, 2).fill_(250);   // left half blue (must not count)
  auto depth = cntest::require_type("depth", with_model(path, {{"resolution", std::int64_t{res}}, {"normalize", std::string("raw")}}));
  at::Tensor out = cntest::require_control(*depth, img);
  // Away from the seam the halves are exactly the extremes of the min-max range.
  CHECK(out.slice(1, 0, 28).max().item<int>() == 0);
  CHECK(out.slice(1, 36, 64).min().item<int>() == 255);
}

TEST_CASE("depth without a model refuses, naming the option and the pass-through", "[controltypes][depth]") {
  auto depth = cntest::require_type("depth");
  auto out = depth->preprocess(cntest::black(16, 16), nullptr);
  REQUIRE_FALSE(out.ok());
  const std::string& m = out.status().message();
  CHECK(m.find("`model`") != std::string::npos);
  CHECK(m.find("org.sdxl.controlnet.depth") != std::string::npos);
  CHECK(m.find("\"none\"") != std::string::npos);
}

TEST_CASE("depth refuses missing, unreadable and wrong-architecture model files clearly", "[controltypes][depth]") {
  const auto dir = cntest::scratch_dir();
  auto missing = cntest::make_type("depth", with_model(dir / "nope.onnx"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find("nope.onnx") != std::string::npos);

  cntest::write_file(dir / "garbage.onnx", "this is not a protobuf");
  auto garbage = cntest::make_type("depth", with_model(dir / "garbage.onnx"));
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.status().message().find("garbage.onnx") != std::string::npos);

  cntest::write_file(dir / "garbage.pt", "not a zip archive either");
  auto garbage_ts = cntest::make_type("depth", with_model(dir / "garbage.pt"));
  REQUIRE_FALSE(garbage_ts.ok());
  CHECK(garbage_ts.status().message().find("TorchScript") != std::string::npos);

  cntest::write_file(dir / "model.bin", "x");
  auto unknown_ext = cntest::make_type("depth", with_model(dir / "model.bin"));
  REQUIRE_FALSE(unknown_ext.ok());
  CHECK(unknown_ext.status().message().find("`backend`") != std::string::npos);

  // A segmentation-shaped model (3 class maps) is not a depth model: refused at preprocess.
  const auto seg = cntest::save_torchscript(dir, "three_maps", "    return x * 1.0\n");
  auto wrong = cntest::require_type("depth", with_model(seg, {{"resolution", std::int64_t{0}}}));
  auto out = wrong->preprocess(cntest::black(16, 16), nullptr);
  REQUIRE_FALSE(out.ok());
  CHECK(out.status().message().find("[1, 3, 16, 16]") != std::string::npos);
  CHECK(out.status().message().find("three_maps.pt") != std::string::npos);
}
