// The linear latent→RGB preview: rgb = latent·F + bias, mapped from [-1, 1] to 0..255. Checked
// against values worked out by hand from the SDXL factors.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "pipeline/preview.h"

TEST_CASE("linear latent preview", "[preview]") {
  at::Tensor lat = at::zeros({2, 4, 3, 5});
  lat[0][0].fill_(1.0);  // image 0: channel 0 = 1 → rgb = F[0] + bias = (0.4735, 0.4057, 0.4330)
  auto px = sdxl::pipeline::latent_rgb_preview(lat);
  REQUIRE(px.sizes() == at::IntArrayRef({2, 3, 5, 3}));
  REQUIRE(px.scalar_type() == at::kByte);
  CHECK(px[0][1][2][0].item<int>() == 188);  // (1.4735 / 2) · 255 = 187.87
  CHECK(px[0][1][2][1].item<int>() == 179);  // 179.23
  CHECK(px[0][1][2][2].item<int>() == 183);  // 182.71
  CHECK(px[1][0][0][0].item<int>() == 141);  // zero latents: bias only, (1.1084 / 2) · 255 = 141.32
  at::Tensor huge = at::full({1, 4, 1, 1}, 100.0);
  CHECK(sdxl::pipeline::latent_rgb_preview(huge).max().item<int>() <= 255);  // clamped, no wrap-around
}
