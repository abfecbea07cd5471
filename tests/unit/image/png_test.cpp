#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "image/png.h"
#include "test_paths.h"

TEST_CASE("PNG round-trips pixels and text chunks (ASCII and UTF-8)", "[image]") {
  at::Tensor px = at::randint(0, 256, {17, 23, 3}, at::kByte);
  const std::string params = "a cat (on a mat:1.2)\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, Seed: 42";
  const std::string utf8 = "un chat sur un tapis, 猫";
  auto path = (sdxl::test_paths::scratch_dir() / "sdxl_png_test.png").string();
  REQUIRE(sdxl::image::write_png(path, px, {{"parameters", params}, {"comment", utf8}}).ok());
  CHECK_FALSE(std::filesystem::exists(path + ".partial"));
  auto img = sdxl::image::read_png(path);
  REQUIRE(img.ok());
  CHECK(at::equal(img.value().pixels, px));
  CHECK(img.value().text.at("parameters") == params);
  CHECK(img.value().text.at("comment") == utf8);
}

TEST_CASE("PNG decoding refuses garbage and truncation with a message", "[image]") {
  const unsigned char junk[] = "definitely not a png";
  auto r = sdxl::image::decode_png(junk, sizeof(junk), "junk.png");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("junk.png"));
  auto bytes = sdxl::image::encode_png(at::zeros({8, 8, 3}, at::kByte));
  REQUIRE(bytes.ok());
  auto cut = sdxl::image::decode_png(bytes.value().data(), bytes.value().size() / 2, "cut.png");
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.status().code() == sdxl::sdk::StatusCode::corrupt_data);
}

TEST_CASE("PNG compression level changes the size, never the pixels", "[image]") {
  // Smooth gradients with a little noise: compressible, as generated pictures are.
  at::Tensor y = at::arange(96, at::kFloat).view({96, 1, 1}), x = at::arange(128, at::kFloat).view({1, 128, 1});
  at::Tensor px = (128 + 100 * at::sin(y * 0.05) * at::cos(x * 0.07 + at::arange(3, at::kFloat)) +
                   3 * at::randn({96, 128, 3}))
                      .clamp(0, 255)
                      .to(at::kByte);
  struct Restore {
    ~Restore() { sdxl::image::set_png_compression(sdxl::image::kDefaultPngCompression); }
  } restore;
  std::size_t bytes[3] = {};
  const int levels[3] = {0, 1, 9};
  for (int i = 0; i < 3; ++i) {
    sdxl::image::set_png_compression(levels[i]);
    CHECK(sdxl::image::png_compression() == levels[i]);
    auto png = sdxl::image::encode_png(px, {{"parameters", "level " + std::to_string(levels[i])}});
    REQUIRE(png.ok());
    auto back = sdxl::image::decode_png(png.value().data(), png.value().size(), "level");
    REQUIRE(back.ok());
    CHECK(at::equal(back.value().pixels, px));
    bytes[i] = png.value().size();
  }
  CHECK(bytes[0] > bytes[1]);   // stored: the raw rows, larger than any compressed stream
  CHECK(bytes[1] >= bytes[2]);  // 9 searches hardest
  CHECK(bytes[0] >= 96u * 128u * 3u);
  sdxl::image::set_png_compression(42);  // out of range: clamped
  CHECK(sdxl::image::png_compression() == 9);
}
