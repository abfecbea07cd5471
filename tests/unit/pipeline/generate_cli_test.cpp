// Runs bin/sdxl generate (path in $SDXL_BIN) on the demo model: the PNG carries A1111's
// parameters, and the same seed reproduces the same pixels; image i of a batch equals a single
// run with seed + i. Tagged [generate-cli]: run by tests/generate.cmake, which sets the paths.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "image/png.h"
#include "pipeline/infotext.h"
#include "test_paths.h"

namespace {
std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
int run(const std::string& args) {
  const std::string cmd = env("SDXL_BIN") + " generate " + args + " 2>/dev/null >/dev/null";
  return std::system(cmd.c_str());
}
}  // namespace

TEST_CASE("generate: metadata, determinism and per-image seeds", "[.][generate-cli]") {
  if (env("SDXL_BIN").empty()) {
    WARN("SDXL_BIN not set: run through ctest (tests/generate.cmake)");
    return;
  }
  const std::string out = env("SDXL_GEN_OUT");
  const std::string common = " --prompt \"a (blue:1.3) boat\" --negative blurry --width 64 --height 64 --steps 2 --cfg 4.5";
  REQUIRE(run(common + " --seed 11 --out " + out + "/a.png") == 0);
  REQUIRE(run(common + " --seed 11 --out " + out + "/b.png") == 0);
  REQUIRE(run(common + " --seed 10 --batch-size 2 --out " + out + "/batch-{n}.png") == 0);
  auto a = sdxl::image::read_png(out + "/a.png");
  auto b = sdxl::image::read_png(out + "/b.png");
  auto b1 = sdxl::image::read_png(out + "/batch-1.png");
  auto b0 = sdxl::image::read_png(out + "/batch-0.png");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(b1.ok());
  REQUIRE(b0.ok());
  CHECK(at::equal(a.value().pixels, b.value().pixels));
  CHECK_FALSE(at::equal(a.value().pixels, b0.value().pixels));  // seed 10 differs from 11
  // Image 1 of the batch (seed 10 + 1) is the single run with seed 11 (up to batched float noise).
  CHECK((a.value().pixels.to(at::kInt) - b1.value().pixels.to(at::kInt)).abs().max().item<int>() <= 1);

  auto info = sdxl::pipeline::parse_infotext(a.value().text.at("parameters"));
  CHECK(info.prompt == "a (blue:1.3) boat");
  CHECK(info.negative == "blurry");
  std::map<std::string, std::string> f(info.fields.begin(), info.fields.end());
  CHECK(f["Steps"] == "2");
  CHECK(f["Seed"] == "11");
  CHECK(f["CFG scale"] == "4.5");
  CHECK(f["Size"] == "64x64");
  CHECK(f["Sampler"] == "Euler");
}

TEST_CASE("generate: --vae decodes with that VAE and names it in the parameters", "[.][generate-cli]") {
  const std::string taesd = (sdxl::test_paths::golden_models_dir() / "taesdxl-random").string();
  if (env("SDXL_BIN").empty() || !std::ifstream(taesd + "/config.json")) {
    WARN("SKIPPED: needs SDXL_BIN (ctest) and " << taesd);
    return;
  }
  const std::string out = env("SDXL_GEN_OUT");
  const std::string common = " --prompt boat --width 64 --height 64 --steps 2 --seed 5";
  REQUIRE(run(common + " --out " + out + "/own-vae.png") == 0);
  REQUIRE(run(common + " --vae " + taesd + "/ --out " + out + "/taesd-vae.png") == 0);
  auto own = sdxl::image::read_png(out + "/own-vae.png");
  auto tiny = sdxl::image::read_png(out + "/taesd-vae.png");
  REQUIRE(own.ok());
  REQUIRE(tiny.ok());
  CHECK(tiny.value().pixels.sizes() == own.value().pixels.sizes());
  CHECK_FALSE(at::equal(tiny.value().pixels, own.value().pixels));  // the same latents, another decoder
  auto fields = sdxl::pipeline::parse_infotext(tiny.value().text.at("parameters")).fields;
  std::map<std::string, std::string> f(fields.begin(), fields.end());
  CHECK(f["VAE"] == "taesdxl-random");
  auto own_fields = sdxl::pipeline::parse_infotext(own.value().text.at("parameters")).fields;
  CHECK(std::none_of(own_fields.begin(), own_fields.end(), [](const auto& kv) { return kv.first == "VAE"; }));
}
