// canny, scribble and lineart on synthetic pictures with known geometry: the lines they draw must
// lie on (or just beside) the drawn shapes' outlines, cover every side, and leave flat areas black.
#include <ATen/ATen.h>  // before Catch: glog (via torch) also defines CHECK
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "control_types.h"
#include "torchscript_models.h"

using cntest::require_control;
using cntest::require_type;

namespace {

// A white rectangle [top, bottom) x [left, right) on a 96x96 black picture.
struct Rect {
  int top = 28, bottom = 68, left = 20, right = 76;
};

at::Tensor rectangle_picture(const Rect& r) {
  at::Tensor img = cntest::black(96, 96);
  img.slice(0, r.top, r.bottom).slice(1, r.left, r.right).fill_(255);
  return img;
}

// Distance (pixels, Chebyshev) from pixel (y, x) to the rectangle's outline, the boundary between
// its inside and outside pixels.
double outline_distance(const Rect& r, int y, int x) {
  const double cy = std::clamp<double>(y, r.top, r.bottom - 1), cx = std::clamp<double>(x, r.left, r.right - 1);
  const bool inside = y >= r.top && y < r.bottom && x >= r.left && x < r.right;
  if (!inside) return std::max(std::abs(y - cy), std::abs(x - cx));
  return std::min({y - r.top + 0.5, r.bottom - 1 - y + 0.5, x - r.left + 0.5, r.right - 1 - x + 0.5});
}

// Checks the line image of a rectangle: lines only within `band` pixels of the outline, each side
// covered along at least `coverage` of its length, all three channels equal (grey lines).
void check_rectangle_lines(const at::Tensor& out, const Rect& r, double band, double coverage) {
  REQUIRE(at::equal(out.select(2, 0), out.select(2, 1)));
  REQUIRE(at::equal(out.select(2, 0), out.select(2, 2)));
  const at::Tensor grey = out.select(2, 0).contiguous();
  auto px = grey.accessor<std::uint8_t, 2>();
  int lit = 0, stray = 0;
  for (int y = 0; y < 96; ++y)
    for (int x = 0; x < 96; ++x)
      if (px[y][x] > 0) {
        ++lit;
        if (outline_distance(r, y, x) > band) ++stray;
      }
  CHECK(lit > 0);
  CHECK(stray == 0);
  // Coverage: for each column (top and bottom sides) or row (left and right sides) strictly inside
  // the side's extent, some lit pixel within the band of that side.
  auto covered = [&](bool horizontal, int line, int from, int to) {
    int hits = 0;
    for (int t = from; t < to; ++t) {
      bool hit = false;
      for (int d = -static_cast<int>(band) - 1; d <= static_cast<int>(band) + 1 && !hit; ++d) {
        const int y = horizontal ? line + d : t, x = horizontal ? t : line + d;
        if (y >= 0 && y < 96 && x >= 0 && x < 96 && px[y][x] > 0) hit = true;
      }
      hits += hit;
    }
    return static_cast<double>(hits) / (to - from);
  };
  CHECK(covered(true, r.top, r.left + 2, r.right - 2) >= coverage);
  CHECK(covered(true, r.bottom - 1, r.left + 2, r.right - 2) >= coverage);
  CHECK(covered(false, r.left, r.top + 2, r.bottom - 2) >= coverage);
  CHECK(covered(false, r.right - 1, r.top + 2, r.bottom - 2) >= coverage);
}

}  // namespace

TEST_CASE("canny outlines a rectangle on its border", "[controltypes][canny]") {
  const Rect r;
  auto canny = require_type("canny");
  check_rectangle_lines(require_control(*canny, rectangle_picture(r)), r, 1.5, 0.95);
}

TEST_CASE("canny outlines a circle on its circumference", "[controltypes][canny]") {
  at::Tensor img = cntest::black(96, 96);
  const double cy = 47.5, cx = 47.5, radius = 25;
  auto px = img.accessor<std::uint8_t, 3>();
  for (int y = 0; y < 96; ++y)
    for (int x = 0; x < 96; ++x)
      if (std::hypot(y - cy, x - cx) <= radius) px[y][x][0] = px[y][x][1] = px[y][x][2] = 255;
  auto canny = require_type("canny");
  at::Tensor out = require_control(*canny, img);
  auto e = out.select(2, 0).contiguous();
  auto ep = e.accessor<std::uint8_t, 2>();
  std::vector<bool> angle_hit(36, false);
  int stray = 0;
  for (int y = 0; y < 96; ++y)
    for (int x = 0; x < 96; ++x)
      if (ep[y][x]) {
        const double d = std::hypot(y - cy, x - cx);
        if (std::abs(d - radius) > 2.0) ++stray;
        const double a = std::atan2(y - cy, x - cx) + M_PI;
        angle_hit[std::min(35, static_cast<int>(a / (2 * M_PI) * 36))] = true;
      }
  CHECK(stray == 0);
  CHECK(std::count(angle_hit.begin(), angle_hit.end(), true) == 36);
}

TEST_CASE("scribble draws thick strokes along a rectangle's outline only", "[controltypes][scribble]") {
  const Rect r;
  auto scribble = require_type("scribble");
  at::Tensor out = require_control(*scribble, rectangle_picture(r));
  // Strokes sit on the dark side of the outline, within the wide Gaussian's reach (sigma 5: a
  // 255-step darkens a pixel by > 16 levels up to ~8 px away) plus the dilation.
  check_rectangle_lines(out, r, 10.0, 1.0);
  // Thick: across the top side, the stroke is several pixels wide.
  auto col = out.select(2, 0).select(1, 48);
  CHECK(col.slice(0, r.top - 12, r.top + 1).gt(0).sum().item<int>() >= 4);
  // Flat areas are empty: the rectangle's middle and the far corners.
  CHECK(cntest::rgb_at(out, 48, 48) == "0,0,0");
  CHECK(cntest::rgb_at(out, 2, 2) == "0,0,0");
}

TEST_CASE("scribble turns dark pen strokes on white paper into white strokes on black", "[controltypes][scribble]") {
  at::Tensor img = at::full({96, 96, 3}, 255, at::kByte);
  img.slice(0, 47, 50).slice(1, 10, 86).fill_(0);  // a horizontal pen stroke, rows 47..49
  auto scribble = require_type("scribble");
  at::Tensor out = require_control(*scribble, img);
  auto px = out.select(2, 0).contiguous();
  auto p = px.accessor<std::uint8_t, 2>();
  for (int x = 14; x < 82; ++x) CHECK(p[48][x] == 255);
  CHECK(p[20][48] == 0);  // paper stays black
  CHECK(p[80][48] == 0);
}

TEST_CASE("lineart (difference of Gaussians) draws thin lines hugging a rectangle's outline", "[controltypes][lineart]") {
  const Rect r;
  auto lineart = require_type("lineart");
  at::Tensor out = require_control(*lineart, rectangle_picture(r));
  check_rectangle_lines(out, r, 4.0, 1.0);
  CHECK(cntest::rgb_at(out, 48, 48) == "0,0,0");
}

TEST_CASE("lineart (adaptive threshold) marks the dark side of a rectangle's outline", "[controltypes][lineart]") {
  const Rect r;
  auto lineart = require_type("lineart", {{"method", std::string("adaptive")}, {"block_size", std::int64_t{7}}});
  at::Tensor out = require_control(*lineart, rectangle_picture(r));
  check_rectangle_lines(out, r, 4.0, 1.0);
  CHECK(cntest::rgb_at(out, 48, 48) == "0,0,0");
  CHECK(cntest::rgb_at(out, 2, 2) == "0,0,0");
}

TEST_CASE("edge types refuse bad settings and bad pictures", "[controltypes]") {
  CHECK_FALSE(cntest::make_type("scribble", {{"fine_sigma", 6.0}, {"wide_sigma", 5.0}}).ok());
  CHECK_FALSE(cntest::make_type("lineart", {{"block_size", std::int64_t{8}}, {"method", std::string("adaptive")}}).ok());
  CHECK_FALSE(cntest::make_type("mlsd", {{"canny_low", std::int64_t{200}}, {"canny_high", std::int64_t{100}}, {"detector", std::string("hough")}}).ok());
  for (const char* name : {"canny", "scribble", "lineart", "mlsd"}) {
    INFO(name);
    auto t = require_type(name);
    auto flt = t->preprocess(at::zeros({32, 32, 3}), nullptr);
    REQUIRE_FALSE(flt.ok());
    CHECK(flt.status().message().find("uint8") != std::string::npos);
    CHECK_FALSE(t->preprocess(at::zeros({32, 32, 4}, at::kByte), nullptr).ok());
    CHECK_FALSE(t->preprocess(at::Tensor(), nullptr).ok());
  }
}

TEST_CASE("lineart with a learned model turns its black-on-white lines into white on black", "[controltypes][lineart]") {
  // Stand-in model: "paper" = the red channel in [0, 1] (unit input), lines where red is dark.
  const auto model = cntest::save_torchscript(cntest::scratch_dir(), "lineart_red", "    return x[:, 0:1, :, :] * 1.0\n");
  at::Tensor img = at::full({32, 32, 3}, 255, at::kByte);
  img.slice(0, 10, 12).select(2, 0).fill_(0);  // a dark-red stroke on rows 10..11
  auto lineart = require_type("lineart", {{"model", model.string()}, {"resolution", std::int64_t{0}}});
  at::Tensor out = require_control(*lineart, img);
  CHECK(out.slice(0, 10, 12).min().item<int>() == 255);
  CHECK(out.slice(0, 0, 10).max().item<int>() == 0);
  CHECK(out.slice(0, 12, 32).max().item<int>() == 0);
  // model_lines = white: the model's map is used as is.
  auto white = require_type("lineart", {{"model", model.string()}, {"resolution", std::int64_t{0}},
                                        {"model_lines", std::string("white")}});
  CHECK(require_control(*white, img).slice(0, 10, 12).max().item<int>() == 0);
}
