#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "image/png.h"

TEST_CASE("PNG round-trips pixels and text chunks (ASCII and UTF-8)", "[image]") {
  at::Tensor px = at::randint(0, 256, {17, 23, 3}, at::kByte);
  const std::string params = "a cat (on a mat:1.2)\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, Seed: 42";
  const std::string utf8 = "un chat sur un tapis, 猫";
  auto path = (std::filesystem::temp_directory_path() / "sdxl_png_test.png").string();
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
