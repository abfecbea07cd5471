// Resize policies for control pictures, checked on synthetic pictures whose geometry after each
// policy follows from A1111's formulas (cover + centre crop, stretch, fit + centre + median fill).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "pipeline/control_image.h"

using namespace sdxl;
using pipeline::ResizeMode;

namespace {

// uint8 [h, w, 3] where every pixel of column x holds x (a horizontal ramp).
at::Tensor column_ramp(std::int64_t w, std::int64_t h) {
  return at::arange(w, at::kByte).view({1, w, 1}).expand({h, w, 3}).contiguous();
}

// Black picture with a white rectangle rows [r0, r1), cols [c0, c1).
at::Tensor white_box(std::int64_t w, std::int64_t h, std::int64_t r0, std::int64_t r1, std::int64_t c0, std::int64_t c1) {
  at::Tensor p = at::zeros({h, w, 3}, at::kByte);
  p.slice(0, r0, r1).slice(1, c0, c1).fill_(255);
  return p;
}

// Bounding box {top, bottom, left, right} (inclusive) of the non-zero pixels of channel 0.
std::vector<std::int64_t> bbox(const at::Tensor& p) {
  at::Tensor nz = at::nonzero(p.select(2, 0));
  at::Tensor rows = nz.select(1, 0), cols = nz.select(1, 1);
  return {rows.min().item<std::int64_t>(), rows.max().item<std::int64_t>(), cols.min().item<std::int64_t>(),
          cols.max().item<std::int64_t>()};
}

}  // namespace

TEST_CASE("control image: resize mode names", "[controlunits]") {
  CHECK(pipeline::parse_resize_mode("").value() == ResizeMode::crop_and_resize);
  CHECK(pipeline::parse_resize_mode("crop_and_resize").value() == ResizeMode::crop_and_resize);
  CHECK(pipeline::parse_resize_mode("Crop and Resize").value() == ResizeMode::crop_and_resize);
  CHECK(pipeline::parse_resize_mode("Just Resize").value() == ResizeMode::just_resize);
  CHECK(pipeline::parse_resize_mode("resize-and-fill").value() == ResizeMode::resize_and_fill);
  auto bad = pipeline::parse_resize_mode("zoom");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("zoom"));
  CHECK(std::string(pipeline::resize_mode_a1111_name(ResizeMode::resize_and_fill)) == "Resize and Fill");
}

TEST_CASE("control image: same size is unchanged, grey and RGBA become RGB", "[controlunits]") {
  at::Tensor p = column_ramp(24, 16);
  for (auto mode : {ResizeMode::just_resize, ResizeMode::crop_and_resize, ResizeMode::resize_and_fill})
    CHECK(at::equal(pipeline::fit_control_image(p, 24, 16, mode).value(), p));
  at::Tensor grey = p.slice(2, 0, 1).contiguous();
  CHECK(at::equal(pipeline::fit_control_image(grey, 24, 16, ResizeMode::just_resize).value(), p));
  at::Tensor rgba = at::cat({p, at::full({16, 24, 1}, 7, at::kByte)}, 2);
  CHECK(at::equal(pipeline::fit_control_image(rgba, 24, 16, ResizeMode::just_resize).value(), p));
}

TEST_CASE("control image: crop and resize covers the output and crops the centre", "[controlunits]") {
  // 80x40 -> 40x40: k = max(40/80, 40/40) = 1, no resampling; columns 20..59 are kept.
  at::Tensor out = pipeline::fit_control_image(column_ramp(80, 40), 40, 40, ResizeMode::crop_and_resize).value();
  REQUIRE(out.sizes() == at::IntArrayRef({40, 40, 3}));
  CHECK(at::equal(out, column_ramp(80, 40).slice(1, 20, 60)));

  // 100x50 -> 40x40: k = 0.8, scaled to 80x40, crop left 20. A box at rows 15..34, cols 40..59
  // lands at rows 12..27, cols 12..27 (scaled by 0.8, shifted by -20 horizontally).
  at::Tensor box = white_box(100, 50, 15, 35, 40, 60);
  at::Tensor fitted = pipeline::fit_control_image(box, 40, 40, ResizeMode::crop_and_resize).value();
  REQUIRE(fitted.sizes() == at::IntArrayRef({40, 40, 3}));
  CHECK(((fitted == 0) | (fitted == 255)).all().item<bool>());  // a binary map stays binary
  const auto b = bbox(fitted);
  CHECK(std::abs(b[0] - 12) <= 1);
  CHECK(std::abs(b[1] - 27) <= 1);
  CHECK(std::abs(b[2] - 12) <= 1);
  CHECK(std::abs(b[3] - 27) <= 1);
}

TEST_CASE("control image: just resize stretches", "[controlunits]") {
  // Left half red, right half blue; 20x10 -> 64x64: the boundary stays at the middle column.
  at::Tensor p = at::zeros({10, 20, 3}, at::kByte);
  p.slice(1, 0, 10).select(2, 0).fill_(255);
  p.slice(1, 10, 20).select(2, 2).fill_(255);
  at::Tensor out = pipeline::fit_control_image(p, 64, 64, ResizeMode::just_resize).value();
  REQUIRE(out.sizes() == at::IntArrayRef({64, 64, 3}));
  CHECK(at::equal(out.slice(1, 0, 30).select(2, 0), at::full({64, 30}, 255, at::kByte)));
  CHECK(at::equal(out.slice(1, 34, 64).select(2, 2), at::full({64, 30}, 255, at::kByte)));
  CHECK(out.slice(1, 34, 64).select(2, 0).max().item<int>() == 0);
}

TEST_CASE("control image: resize and fill fits inside and pads with the median border colour", "[controlunits]") {
  // 80x40 -> 40x40: k = 0.5, content 40x20 at rows 10..29; the rest is the border median.
  at::Tensor p = at::empty({40, 80, 3}, at::kByte);
  p.select(2, 0).fill_(10);
  p.select(2, 1).fill_(20);
  p.select(2, 2).fill_(30);
  p.slice(0, 10, 30).slice(1, 20, 60).fill_(200);  // interior, not on the border
  p[0][0].fill_(255);                               // a few odd border pixels do not move the median
  p[39][79].fill_(0);
  at::Tensor out = pipeline::fit_control_image(p, 40, 40, ResizeMode::resize_and_fill).value();
  REQUIRE(out.sizes() == at::IntArrayRef({40, 40, 3}));
  at::Tensor colour = at::tensor({10, 20, 30}, at::kByte).view({1, 1, 3});
  CHECK(at::equal(out.slice(0, 0, 10), colour.expand({10, 40, 3})));
  CHECK(at::equal(out.slice(0, 30, 40), colour.expand({10, 40, 3})));
  // The interior block (rows 10..29, cols 20..59 of the input) lands at rows 15..24, cols 10..29.
  CHECK(at::equal(out.slice(0, 16, 24).slice(1, 11, 29), at::full({8, 18, 3}, 200, at::kByte)));

  // Tall picture into a wide output: padding left and right instead.
  at::Tensor tall = pipeline::fit_control_image(column_ramp(10, 40), 40, 20, ResizeMode::resize_and_fill).value();
  REQUIRE(tall.sizes() == at::IntArrayRef({20, 40, 3}));
  // k = min(4, 0.5) = 0.5 -> 5x20 content at columns 17..21.
  CHECK(at::equal(tall.slice(1, 0, 17), tall.slice(1, 0, 1).expand({20, 17, 3})));
}

TEST_CASE("control image: bad pictures are refused", "[controlunits]") {
  CHECK_FALSE(pipeline::fit_control_image(at::Tensor(), 8, 8, ResizeMode::just_resize).ok());
  CHECK_FALSE(pipeline::fit_control_image(at::zeros({8, 8, 3}), 8, 8, ResizeMode::just_resize).ok());  // float
  CHECK_FALSE(pipeline::fit_control_image(at::zeros({8, 8}, at::kByte), 8, 8, ResizeMode::just_resize).ok());
  CHECK_FALSE(pipeline::fit_control_image(at::zeros({8, 8, 5}, at::kByte), 8, 8, ResizeMode::just_resize).ok());
}
