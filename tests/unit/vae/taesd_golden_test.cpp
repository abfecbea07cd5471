// TAESD-XL against the diffusers AutoencoderTiny reference values (cases/taesd.safetensors).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "taesd_vae.h"
#include "vae_test_support.h"

using namespace vae_test;
using sdxl::vae_taesd::TaesdVae;

namespace {

std::unique_ptr<TaesdVae> tiny_taesd(const LoadedWeights& w, sdxl::sdk::Options opts = {}) {
  auto vae = std::make_unique<TaesdVae>(opts, sdxl::sdk::HostServices{});
  auto st = vae->load(w.set());
  INFO(st.message());
  REQUIRE(st.ok());
  return vae;
}

}  // namespace

TEST_CASE("taesd decode and encode match the diffusers reference", "[vae][taesd][golden]") {
  if (!fs::exists(models_dir() / "cases" / "taesd.safetensors")) {
    WARN("goldens not found; skipping");
    return;
  }
  auto weights = load_folder(models_dir() / "taesdxl-random");
  auto cases = sdxl::io::SafetensorsFile::open(models_dir() / "cases" / "taesd.safetensors");
  REQUIRE(cases.ok());
  auto vae = tiny_taesd(weights);
  CHECK(vae->info().scaling_factor == 1.0);
  for (const std::string prefix : {"decode0.", "decode1."}) {
    auto image = vae->decode(case_tensor(*cases.value(), prefix + "latents"), nullptr);
    INFO(prefix << image.status().message());
    REQUIRE(image.ok());
    at::Tensor expected = case_tensor(*cases.value(), prefix + "image");
    REQUIRE(image.value().sizes() == expected.sizes());
    CHECK(excess(image.value(), expected, 5e-4, 1e-4) <= 0);
  }
  auto latents = vae->encode(case_tensor(*cases.value(), "encode0.image"), nullptr, nullptr);
  REQUIRE(latents.ok());
  CHECK(excess(latents.value(), case_tensor(*cases.value(), "encode0.latents"), 2e-4, 1e-4) <= 0);
}

TEST_CASE("taesd slicing equals the batched decode, and bad latents are refused", "[vae][taesd]") {
  if (!fs::exists(models_dir() / "taesdxl-random")) {
    WARN("goldens not found; skipping");
    return;
  }
  auto weights = load_folder(models_dir() / "taesdxl-random");
  auto batched = tiny_taesd(weights);
  sdxl::sdk::Options sliced_opts;
  sliced_opts.set("slice_batch", true);
  auto sliced = tiny_taesd(weights, sliced_opts);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  at::Tensor z = at::normal(0.0, 1.0, {3, 4, 8, 12}, gen);
  auto a = batched->decode(z, nullptr);
  auto b = sliced->decode(z, nullptr);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a.value().sizes() == at::IntArrayRef({3, 3, 64, 96}));
  CHECK(max_abs_diff(a.value(), b.value()) < 1e-4);  // float32 rounding only
  auto bad = batched->decode(at::zeros({1, 16, 8, 8}), nullptr);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == sdxl::sdk::StatusCode::invalid_argument);
  CHECK_THAT(bad.status().message(), Catch::Contains("16") && Catch::Contains("4"));
}
