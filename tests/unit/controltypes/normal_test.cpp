// normal from an analytic depth ramp: a plane has one normal, which the test computes by hand.
#include <ATen/ATen.h>  // before Catch: glog (via torch) also defines CHECK
#include <catch2/catch.hpp>

#include <array>
#include <cmath>

#include "control_types.h"

namespace {

// Depth picture D(y, x) = a*x + b*y grey levels (near = bright), replicated to RGB.
at::Tensor ramp(int64_t h, int64_t w, double a, double b) {
  at::Tensor ys = at::arange(h, at::kDouble).view({h, 1}), xs = at::arange(w, at::kDouble).view({1, w});
  at::Tensor d = (xs * a + ys * b).round().clamp(0, 255).to(at::kByte);  // [H, W]
  return d.unsqueeze(-1).expand({h, w, 3}).contiguous();
}

// The expected encoding of the unit normal of the height field D: normalize(-s*a, s*b, 1) in
// OpenGL axes (x right, y up, z towards the viewer), channel = (n * 0.5 + 0.5) * 255.
std::array<double, 3> expected_rgb(double a, double b, double s, bool red_is_left) {
  const double nx = -s * a, ny = s * b, nz = 1.0, len = std::sqrt(nx * nx + ny * ny + nz * nz);
  const double r = (red_is_left ? -nx : nx) / len;
  return {(r * 0.5 + 0.5) * 255, (ny / len * 0.5 + 0.5) * 255, (nz / len * 0.5 + 0.5) * 255};
}

void check_constant_normal(const at::Tensor& out, std::array<double, 3> want) {
  // Interior only: the border sees the replicated edge.
  at::Tensor inner = out.slice(0, 2, out.size(0) - 2).slice(1, 2, out.size(1) - 2).to(at::kDouble);
  for (int c = 0; c < 3; ++c) {
    INFO("channel " << c << " want " << want[c]);
    CHECK(inner.select(2, c).min().item<double>() >= want[c] - 1.0);
    CHECK(inner.select(2, c).max().item<double>() <= want[c] + 1.0);
  }
}

}  // namespace

TEST_CASE("normal of a depth ramp rising to the right is the plane's normal", "[controltypes][normal]") {
  auto opengl = cntest::require_type("normal", {{"input", std::string("depth")}, {"convention", std::string("opengl")}});
  at::Tensor depth = ramp(40, 64, 2.0, 0.0);  // 0..126 grey levels, nearer to the right
  check_constant_normal(cntest::require_control(*opengl, depth), expected_rgb(2.0, 0.0, 1.0, false));
  // A surface nearer on the right faces left: in OpenGL axes red is below 128.
  CHECK(cntest::require_control(*opengl, depth)[20][30][0].item<int>() < 20);

  auto controlnet = cntest::require_type("normal", {{"input", std::string("depth")}});  // default convention
  check_constant_normal(cntest::require_control(*controlnet, depth), expected_rgb(2.0, 0.0, 1.0, true));
}

TEST_CASE("normal of a vertical depth ramp tilts green, scaled by strength", "[controltypes][normal]") {
  auto t = cntest::require_type("normal", {{"input", std::string("depth")}, {"convention", std::string("opengl")},
                                           {"strength", 0.5}});
  at::Tensor depth = ramp(64, 40, 0.0, 3.0);  // 0..189, nearer towards the bottom
  check_constant_normal(cntest::require_control(*t, depth), expected_rgb(0.0, 3.0, 0.5, false));
}

TEST_CASE("normal of a flat depth faces the viewer", "[controltypes][normal]") {
  auto t = cntest::require_type("normal", {{"input", std::string("depth")}});
  at::Tensor flat = at::full({32, 32, 3}, 90, at::kByte);
  check_constant_normal(cntest::require_control(*t, flat), {127.5, 127.5, 255.0});
}

TEST_CASE("normal without a depth model refuses and names the options to set", "[controltypes][normal]") {
  auto t = cntest::require_type("normal");  // input = image, no model
  auto out = t->preprocess(cntest::black(32, 32), nullptr);
  REQUIRE_FALSE(out.ok());
  CHECK(out.status().message().find("`model`") != std::string::npos);
  CHECK(out.status().message().find("`input`") != std::string::npos);
  CHECK(out.status().message().find("\"none\"") != std::string::npos);
  CHECK(t->defaults().needs_model_file);
  CHECK_FALSE(cntest::require_type("normal", {{"input", std::string("depth")}})->defaults().needs_model_file);
}
