// The KL VAE against the diffusers reference values (cases/vae.safetensors), plus the
// architecture inference used for single-file checkpoints.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "kl_config.h"
#include "kl_vae.h"
#include "vae_test_support.h"
#include "test_paths.h"

using namespace vae_test;
using sdxl::vae_kl::KlVae;

namespace {

std::unique_ptr<KlVae> tiny_kl(const LoadedWeights& w, sdxl::sdk::Options opts = {}) {
  sdxl::sdk::HostServices services;
  auto vae = std::make_unique<KlVae>(opts, services);
  auto st = vae->load(w.set());
  INFO(st.message());
  REQUIRE(st.ok());
  return vae;
}

}  // namespace

TEST_CASE("kl decode matches the diffusers reference for every decode sub-case", "[vae][kl][golden]") {
  if (!have_goldens()) {
    WARN("goldens not found under " << sdxl::test_paths::golden_dir().string() << "; skipping");
    return;
  }
  auto weights = load_folder(models_dir() / "tiny-sdxl" / "vae");
  auto vae = tiny_kl(weights);
  auto cases = sdxl::io::SafetensorsFile::open(models_dir() / "cases" / "vae.safetensors");
  REQUIRE(cases.ok());
  int checked = 0;
  for (const std::string prefix : {"decode0.", "decode1."}) {
    at::Tensor latents = case_tensor(*cases.value(), prefix + "latents");
    at::Tensor expected = case_tensor(*cases.value(), prefix + "image");
    auto image = vae->decode(latents, nullptr);
    INFO(prefix << " " << image.status().message());
    REQUIRE(image.ok());
    REQUIRE(image.value().sizes() == expected.sizes());
    CHECK(excess(image.value(), expected, 5e-4, 1e-4) <= 0);
    ++checked;
  }
  CHECK(checked == 2);
}

TEST_CASE("kl encode matches the reference posterior (mean, std, logvar, scaled mean)", "[vae][kl][golden]") {
  if (!have_goldens()) {
    WARN("goldens not found; skipping");
    return;
  }
  auto weights = load_folder(models_dir() / "tiny-sdxl" / "vae");
  auto vae = tiny_kl(weights);
  auto cases = sdxl::io::SafetensorsFile::open(models_dir() / "cases" / "vae.safetensors");
  REQUIRE(cases.ok());
  at::Tensor image = case_tensor(*cases.value(), "encode0.image");
  ConstantNoise zero(0.0), one(1.0);
  auto mode = vae->encode(image, nullptr, nullptr);
  auto at_zero = vae->encode(image, &zero, nullptr);
  auto at_one = vae->encode(image, &one, nullptr);
  REQUIRE(mode.ok());
  REQUIRE(at_zero.ok());
  REQUIRE(at_one.ok());
  const double s = 0.13025;
  CHECK(excess(mode.value(), case_tensor(*cases.value(), "encode0.scaled_mean"), 2e-4, 1e-4) <= 0);
  CHECK(excess(mode.value() / s, case_tensor(*cases.value(), "encode0.mean"), 2e-4, 1e-4) <= 0);
  // A sample with n = 0 is the mean; with n = 1 it is mean + std.
  CHECK(max_abs_diff(at_zero.value(), mode.value()) == 0.0);
  at::Tensor std_dev = (at_one.value() - at_zero.value()) / s;
  CHECK(excess(std_dev, case_tensor(*cases.value(), "encode0.std"), 2e-4, 1e-4) <= 0);
  auto moments = vae->encode_moments(image, nullptr);
  REQUIRE(moments.ok());
  CHECK(excess(moments.value(), case_tensor(*cases.value(), "encode0.moments"), 2e-4, 1e-4) <= 0);
  CHECK(excess(moments.value().slice(1, 4, 8).clamp(-30, 20), case_tensor(*cases.value(), "encode0.logvar"), 2e-4,
               1e-4) <= 0);
}

TEST_CASE("kl architecture inferred from weights equals the config.json architecture", "[vae][kl]") {
  if (!have_goldens()) {
    WARN("goldens not found; skipping");
    return;
  }
  auto weights = load_folder(models_dir() / "tiny-sdxl" / "vae");
  auto from_json = sdxl::vae_kl::parse_kl_config(weights.config, "config.json");
  auto inferred = sdxl::vae_kl::infer_kl_config(weights.tensors, weights.source);
  REQUIRE(from_json.ok());
  REQUIRE(inferred.ok());
  CHECK(inferred->block_out_channels == std::vector<std::int64_t>{32, 64, 64, 64});
  CHECK(inferred->block_out_channels == from_json->block_out_channels);
  CHECK(inferred->layers_per_block == from_json->layers_per_block);
  CHECK(inferred->latent_channels == 4);
  CHECK(inferred->in_channels == 3);
  CHECK(inferred->out_channels == 3);
  CHECK(inferred->mid_block_add_attention);
  CHECK(from_json->scaling_factor == Approx(0.13025));

  // Without config.json the decode must still match the reference.
  LoadedWeights no_config = weights;
  no_config.config.clear();
  auto vae = tiny_kl(no_config);
  auto cases = sdxl::io::SafetensorsFile::open(models_dir() / "cases" / "vae.safetensors");
  REQUIRE(cases.ok());
  auto image = vae->decode(case_tensor(*cases.value(), "decode1.latents"), nullptr);
  REQUIRE(image.ok());
  CHECK(excess(image.value(), case_tensor(*cases.value(), "decode1.image"), 5e-4, 1e-4) <= 0);
}

TEST_CASE("kl force_upcast on the CPU: a float16 host runs the SDXL VAE in float32, a bfloat16 one as it is", "[vae][kl]") {
  if (!have_goldens()) {
    WARN("goldens not found; skipping");
    return;
  }
  auto weights = load_folder(models_dir() / "tiny-sdxl" / "vae");  // config.json: force_upcast true
  auto make = [&](c10::ScalarType host_dtype, const std::string& mode) {
    sdxl::sdk::HostServices services;
    services.dtype = host_dtype;
    sdxl::sdk::Options o;
    o.set("force_upcast", mode);
    auto vae = std::make_unique<KlVae>(o, services);
    REQUIRE(vae->load(weights.set()).ok());
    return vae;
  };
  CHECK(make(at::kBFloat16, "auto")->compute_dtype() == at::kBFloat16);  // diffusers upcasts float16 only
  CHECK(make(at::kBFloat16, "on")->compute_dtype() == at::kFloat);
  CHECK(make(at::kBFloat16, "off")->compute_dtype() == at::kBFloat16);
  CHECK(make(at::kHalf, "off")->compute_dtype() == at::kFloat);  // no fp16 convolutions on the CPU
  CHECK(make(at::kFloat, "auto")->compute_dtype() == at::kFloat);
  // Upcast: a float16 host still reproduces the float32 reference.
  auto cases = sdxl::io::SafetensorsFile::open(models_dir() / "cases" / "vae.safetensors");
  REQUIRE(cases.ok());
  auto image = make(at::kHalf, "auto")->decode(case_tensor(*cases.value(), "decode0.latents"), nullptr);
  REQUIRE(image.ok());
  CHECK(image.value().scalar_type() == at::kFloat);
  CHECK(excess(image.value(), case_tensor(*cases.value(), "decode0.image"), 5e-4, 1e-4) <= 0);
}
