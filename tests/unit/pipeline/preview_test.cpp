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

// TAESD-XL previews: the decoder loaded from a folder decodes full-size pictures, and the
// preview equals that decoder's own decode (uint8 conversion as the pipeline's output).
#include <filesystem>

#include "pipeline/generate.h"
#include "pipeline/preview_decoder.h"
#include "test_paths.h"

TEST_CASE("preview decoder: TAESD-XL from a folder, errors name the path", "[preview]") {
  namespace fs = std::filesystem;
  const fs::path taesd = sdxl::test_paths::golden_models_dir() / "taesdxl-random";
  sdxl::plugins::PluginRegistry reg;
  sdxl::plugins::RegistrySettings s;
  s.search_paths = {sdxl::test_paths::plugin_dir()};
  reg.load(s);
  auto missing = sdxl::pipeline::load_preview_decoder("/no/such/taesd", reg);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find("/no/such/taesd") != std::string::npos);
  if (!fs::exists(taesd)) {
    WARN("SKIPPED: " << taesd << " is absent (set SDXL_GOLDEN_DIR)");
    return;
  }
  auto dec = sdxl::pipeline::load_preview_decoder(taesd, reg);
  INFO(dec.status().message());
  REQUIRE(dec.ok());
  at::manual_seed(4);
  at::Tensor lat = at::randn({1, 4, 4, 6});
  at::Tensor px = sdxl::pipeline::make_preview(lat, dec.value().get());
  CHECK(px.sizes() == at::IntArrayRef({1, 32, 48, 3}));  // full size, not the 4x6 linear preview
  auto direct = dec.value()->decode(lat, nullptr);
  REQUIRE(direct.ok());
  CHECK(at::equal(px, sdxl::pipeline::to_uint8_images(direct.value())));
}
