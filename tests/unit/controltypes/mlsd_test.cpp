// mlsd on a white square: the four sides come out as straight white segments whose endpoints lie
// within a few pixels of the square's corners, and nothing else is drawn.
#include <ATen/ATen.h>  // before Catch: glog (via torch) also defines CHECK
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "control_types.h"

namespace {

constexpr int kSize = 96, kLo = 24, kHi = 72;  // square [24, 72) x [24, 72)

at::Tensor square_picture() {
  at::Tensor img = cntest::black(kSize, kSize);
  img.slice(0, kLo, kHi).slice(1, kLo, kHi).fill_(255);
  return img;
}

// The segment drawn for one side: the pixel row (or column) within 2 px of the side that holds
// the most lit pixels, its first and last lit index along the side, and how many indices in
// between are lit (the segment must be unbroken).
struct Run {
  int offset = 0, first = -1, last = -1, lit = 0;
};

Run side_run(const at::TensorAccessor<std::uint8_t, 2>& p, bool horizontal, int line) {
  auto lit = [&](int d, int t) { return horizontal ? p[line + d][t] > 0 : p[t][line + d] > 0; };
  Run best;
  for (int d = -2; d <= 2; ++d) {
    Run run;
    run.offset = d;
    for (int t = 0; t < kSize; ++t) {
      if (!lit(d, t)) continue;
      if (run.first < 0) run.first = t;
      run.last = t;
      ++run.lit;
    }
    if (run.lit > best.lit) best = run;
  }
  return best;
}

void check_square_segments(const at::Tensor& out, double endpoint_tolerance) {
  at::Tensor grey = out.select(2, 0).contiguous();
  REQUIRE(at::equal(grey, out.select(2, 1)));
  auto p = grey.accessor<std::uint8_t, 2>();
  // Nothing away from the outline (the boundary lies between pixel kLo-1 and kLo, and between
  // kHi-1 and kHi): straight segments, no diagonals, no texture.
  int stray = 0;
  for (int y = 0; y < kSize; ++y)
    for (int x = 0; x < kSize; ++x) {
      if (!p[y][x]) continue;
      const bool near_h = (std::abs(y - kLo) <= 2 || std::abs(y - kHi) <= 2) && x >= kLo - 3 && x <= kHi + 2;
      const bool near_v = (std::abs(x - kLo) <= 2 || std::abs(x - kHi) <= 2) && y >= kLo - 3 && y <= kHi + 2;
      if (!near_h && !near_v) ++stray;
    }
  CHECK(stray == 0);
  for (int side = 0; side < 4; ++side) {
    const bool horizontal = side < 2;
    const int line = side % 2 == 0 ? kLo : kHi - 1;
    INFO("side " << side << (horizontal ? " (horizontal) at " : " (vertical) at ") << line);
    const Run run = side_run(p, horizontal, line);
    REQUIRE(run.first >= 0);
    // Endpoints: the corners of the square along this side.
    CHECK(std::abs(run.first - kLo) <= endpoint_tolerance);
    CHECK(std::abs(run.last - (kHi - 1)) <= endpoint_tolerance);
    CHECK(run.lit == run.last - run.first + 1);  // one unbroken segment
    // Straight: one pixel thick, at a constant offset from the side.
    std::set<int> offsets;
    for (int t = run.first + 3; t <= run.last - 3; ++t)
      for (int d = -2; d <= 2; ++d)
        if (horizontal ? p[line + d][t] : p[t][line + d]) offsets.insert(d);
    CHECK(offsets.size() == 1);
  }
}

}  // namespace

TEST_CASE("mlsd (line segment detector) finds the four sides of a square", "[controltypes][mlsd]") {
  auto mlsd = cntest::require_type("mlsd");
  check_square_segments(cntest::require_control(*mlsd, square_picture()), 3.0);
}

TEST_CASE("mlsd (Hough) finds the four sides of a square", "[controltypes][mlsd]") {
  auto mlsd = cntest::require_type("mlsd", {{"detector", std::string("hough")}, {"max_gap", 10.0}});
  check_square_segments(cntest::require_control(*mlsd, square_picture()), 4.0);
}

TEST_CASE("mlsd ignores segments shorter than min_length", "[controltypes][mlsd]") {
  at::Tensor img = cntest::black(96, 96);
  img.slice(0, 40, 50).slice(1, 40, 50).fill_(255);  // a 10 px square: sides shorter than 16
  auto mlsd = cntest::require_type("mlsd", {{"min_length", 16.0}});
  CHECK(cntest::require_control(*mlsd, img).sum().item<int64_t>() == 0);
  auto keep = cntest::require_type("mlsd", {{"min_length", 4.0}});
  CHECK(cntest::require_control(*keep, img).sum().item<int64_t>() > 0);
}
