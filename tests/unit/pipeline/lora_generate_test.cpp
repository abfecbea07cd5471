// LoRAs during generation, on the demo model: the merged weight is W + m·(α/r)·up·down (computed
// here independently), multiplier 0 changes nothing, unet/text-encoder multipliers act on their
// own components, and switching back to no LoRA restores the model bit-identically.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "demo_kohya_lora.h"
#include "demo_model_fixture.h"
#include "io/safetensors.h"
#include "pipeline/lora_stack.h"
#include "test_paths.h"

namespace fs = std::filesystem;
using namespace sdxl;

using test_support::kDemoLoraTextModule;
using test_support::kDemoLoraUnetModule;

TEST_CASE("LoRAs merge into the live model and unmerge exactly", "[lora-generate]") {
  test_support::DemoModel demo("sdxl_lora_generate_test");
  const auto& reg = *demo.registry;
  auto& model = *demo.model;
  const fs::path dir = sdxl::test_paths::scratch_dir() / "sdxl_lora_generate_test";
  const fs::path lora = dir / "tiny_kohya.safetensors";
  const auto factors = test_support::write_demo_kohya_lora(lora, {3, 0.1, 2.0, true, 4.0});
  const at::Tensor& up = factors.unet_up;
  const at::Tensor& down = factors.unet_down;

  const at::Tensor w0 = model.unet->parameters().at(kDemoLoraUnetModule + ".weight").clone();
  const at::Tensor te0 = model.text->te1().parameters().at(kDemoLoraTextModule + ".weight").clone();
  const at::Tensor baseline = test_support::generate_latents(model, reg);

  auto loras = pipeline::ModelLoras::create(model, reg);
  REQUIRE(loras.ok());
  auto& state = *loras.value();

  SECTION("merged weight = W + m·(alpha/rank)·up·down") {
    REQUIRE(state.apply({{lora, 0.7, 0.7}}).ok());
    const at::Tensor expected = w0 + 0.7 * (2.0 / 4.0) * at::matmul(up, down);
    CHECK(at::allclose(model.unet->parameters().at(kDemoLoraUnetModule + ".weight"), expected, 1e-6, 1e-6));
    CHECK_FALSE(at::equal(test_support::generate_latents(model, reg), baseline));
  }
  SECTION("multiplier 0 is the plain model") {
    REQUIRE(state.apply({{lora, 0.0, 0.0}}).ok());
    CHECK(at::equal(test_support::generate_latents(model, reg), baseline));
  }
  SECTION("unet-only multiplier leaves the text encoder alone") {
    REQUIRE(state.apply({{lora, 1.0, 0.0}}).ok());
    CHECK(at::equal(model.text->te1().parameters().at(kDemoLoraTextModule + ".weight"), te0));
    CHECK_FALSE(at::equal(model.unet->parameters().at(kDemoLoraUnetModule + ".weight"), w0));
  }
  SECTION("switching back restores the weights bit-identically") {
    REQUIRE(state.apply({{lora, 1.0, 1.0}, {lora, -0.5, 0.25}}).ok());
    REQUIRE(state.apply({}).ok());
    CHECK(at::equal(model.unet->parameters().at(kDemoLoraUnetModule + ".weight"), w0));
    CHECK(at::equal(model.text->te1().parameters().at(kDemoLoraTextModule + ".weight"), te0));
    CHECK(at::equal(test_support::generate_latents(model, reg), baseline));
  }
  SECTION("a broken LoRA file changes nothing and says why") {
    const fs::path bad = dir / "bad.safetensors";
    REQUIRE(io::write_safetensors(bad, {{"lora_unet_nonexistent_module.lora_down.weight", at::ones({4, 64})},
                                        {"lora_unet_nonexistent_module.lora_up.weight", at::ones({64, 4})}}).ok());
    auto st = state.apply({{bad, 1.0, 1.0}});
    CHECK_FALSE(st.ok());
    CHECK_THAT(st.message(), Catch::Contains("nonexistent"));
    CHECK(at::equal(model.unet->parameters().at(kDemoLoraUnetModule + ".weight"), w0));
  }
}

TEST_CASE("lora arguments (PATH:W) and prompt-tag names", "[lora-generate]") {
  auto a = pipeline::parse_lora_argument("/x/y.safetensors:0.8");
  REQUIRE(a.ok());
  CHECK(a.value().path == "/x/y.safetensors");
  CHECK(a.value().unet == Approx(0.8));
  CHECK(a.value().text_encoder == Approx(0.8));
  auto b = pipeline::parse_lora_argument("c:/dir:name.safetensors:1:-0.5");
  REQUIRE(b.ok());
  CHECK(b.value().path == "c:/dir:name.safetensors");
  CHECK(b.value().text_encoder == Approx(-0.5));
  CHECK_FALSE(pipeline::resolve_lora_name("../etc/passwd", {"/tmp"}).ok());
  CHECK_FALSE(pipeline::resolve_lora_name("sub/x", {"/tmp"}).ok());
}

TEST_CASE("LoRA lists in TOML: the three forms, and errors with line:column", "[lora-generate]") {
  const fs::path dir = sdxl::test_paths::scratch_dir() / "sdxl_lora_toml_test";
  fs::create_directories(dir);
  REQUIRE(io::write_safetensors(dir / "pixel.safetensors", {{"x", at::ones({1})}}).ok());
  const std::string file = (dir / "cfg.toml").string();
  auto parse = [&](const std::string& text) {
    auto t = toml::parse(text, file);
    return pipeline::loras_from_toml(*t["loras"].as_array(), file, {dir});
  };
  auto ok = parse("loras = [\"pixel:0.8\", { path = \"" + (dir / "pixel.safetensors").string() +
                  "\", weight = 0.5 }, { path = \"pixel\", unet = 0.7, text_encoder = 0.2 }]");
  REQUIRE(ok.ok());
  REQUIRE(ok.value().size() == 3);
  CHECK(ok.value()[0].path == dir / "pixel.safetensors");
  CHECK(ok.value()[0].unet == Approx(0.8));
  CHECK(ok.value()[1].text_encoder == Approx(0.5));
  CHECK(ok.value()[2].unet == Approx(0.7));
  CHECK(ok.value()[2].text_encoder == Approx(0.2));
  auto missing = parse("loras = [\"nothere:1\"]");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains("cfg.toml:1:") && Catch::Contains("nothere"));
  auto bad_key = parse("loras = [{ path = \"pixel\", strength = 1 }]");
  REQUIRE_FALSE(bad_key.ok());
  CHECK_THAT(bad_key.status().message(), Catch::Contains("strength"));
}
