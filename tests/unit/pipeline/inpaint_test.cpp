// Inpainting properties on the demo model, checked against independent computations:
//  * an all-black mask (keep everything) ends exactly on the init image's own latents, so the
//    result is decode(encode(image)) with the same posterior draw;
//  * an all-white mask with strength < 1 is plain img2img.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "demo_model_fixture.h"
#include "memory/ledger.h"
#include "pipeline/vae_choice.h"

using namespace sdxl;

namespace {
// The plugins and the demo model.
struct Fixture : test_support::DemoModel {
  Fixture() : DemoModel("sdxl_inpaint_test") {}
};

pipeline::GenerateRequest request(const at::Tensor& image, double strength) {
  pipeline::GenerateRequest r;
  r.prompts.prompts = {"a boat"};
  r.width = r.height = 64;
  r.steps = 4;
  r.init_image = image;
  r.strength = strength;
  return r;
}
}  // namespace

TEST_CASE("inpaint: a keep-everything mask returns the VAE round trip of the image", "[inpaint]") {
  Fixture f;
  at::Tensor image = at::rand({1, 3, 64, 64}, at::TensorOptions().dtype(at::kFloat)) * 2 - 1;
  auto req = request(image, 0.75);
  req.mask = at::zeros({1, 1, 64, 64});
  noise::CpuTorchNoise noise(99);
  pipeline::JobHooks hooks;
  hooks.noise = &noise;
  auto out = pipeline::generate(*f.model, *f.registry, req, hooks);
  REQUIRE(out.ok());
  // Independently: the first draw of the same seed is the posterior sample of the encoding.
  noise::CpuTorchNoise same(99);
  auto latents = f.model->vae->encode(image, &same, nullptr);
  REQUIRE(latents.ok());
  CHECK(at::allclose(out.value().latents, latents.value(), 1e-5, 1e-5));
  auto decoded = f.model->vae->decode(latents.value(), nullptr);
  REQUIRE(decoded.ok());
  CHECK(at::allclose(out.value().images, decoded.value(), 1e-4, 1e-4));
}

TEST_CASE("inpaint: a repaint-everything mask is img2img", "[inpaint]") {
  Fixture f;
  at::Tensor image = at::rand({1, 3, 64, 64}) * 2 - 1;
  auto masked = request(image, 0.6);
  masked.mask = at::ones({1, 1, 64, 64});
  auto plain = request(image, 0.6);
  noise::CpuTorchNoise n1(5), n2(5);
  pipeline::JobHooks h1, h2;
  h1.noise = &n1;
  h2.noise = &n2;
  auto a = pipeline::generate(*f.model, *f.registry, masked, h1);
  auto b = pipeline::generate(*f.model, *f.registry, plain, h2);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(at::equal(a.value().latents, b.value().latents));
}

TEST_CASE("inpaint: bad masks are refused before any work", "[inpaint]") {
  Fixture f;
  auto req = request(at::zeros({1, 3, 64, 64}), 0.5);
  req.mask = at::zeros({1, 1, 32, 64});
  noise::CpuTorchNoise noise(1);
  pipeline::JobHooks hooks;
  hooks.noise = &noise;
  auto r = pipeline::generate(*f.model, *f.registry, req, hooks);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("mask must be one channel of the image's size"));
  req.init_image = at::Tensor();
  req.mask = at::zeros({1, 1, 64, 64});
  CHECK_THAT(pipeline::generate(*f.model, *f.registry, req, hooks).status().message(), Catch::Contains("needs an init image"));
}

TEST_CASE("VAE decode switches to tiles when the memory budget is short, and refuses when nothing fits",
          "[vae-choice]") {
  Fixture f;
  auto& ledger = memory::process_ledger();
  const c10::Device cpu(c10::kCPU);
  at::Tensor latents = at::randn({1, 4, 64, 64});
  const auto untiled = f.model->vae->estimate_decode_bytes(latents.sizes());
  REQUIRE(untiled > 0);
  ledger.set_budget(cpu, 0);
  auto plain = pipeline::choose_vae_for_decode(*f.model, *f.registry, latents.sizes());
  REQUIRE(plain.ok());
  CHECK(plain.value().vae == f.model->vae.get());
  // A budget below the untiled estimate: a tiled instance, whose result stays close.
  const auto used = ledger.accounts()[cpu.str()].used;
  ledger.set_budget(cpu, used + untiled * 3 / 4);
  auto tiled = pipeline::choose_vae_for_decode(*f.model, *f.registry, latents.sizes());
  ledger.set_budget(cpu, used + 1024);  // nothing fits
  auto refused = pipeline::choose_vae_for_decode(*f.model, *f.registry, latents.sizes());
  ledger.set_budget(cpu, 0);
  INFO(tiled.status().message());
  REQUIRE(tiled.ok());
  CHECK(tiled.value().owned != nullptr);
  CHECK_THAT(tiled.value().reason, Catch::Contains("tiled decode"));
  auto a = f.model->vae->decode(latents, nullptr);
  auto b = tiled.value().vae->decode(latents, nullptr);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a.value().sizes() == b.value().sizes());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == sdxl::sdk::StatusCode::out_of_memory);
}
