// Plugin objects created for a placement (device and dtype) other than the registry's own: how
// a model loaded in bfloat16 (or on CUDA) gets a VAE that decodes in its precision and place.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "demo_model_fixture.h"
#include "memory/ledger.h"
#include "pipeline/vae_choice.h"
#include "pipeline/sdxl_model.h"
#include "plugins/registry.h"

using namespace sdxl;


TEST_CASE("a VAE created for a placement computes in its dtype, without one in the registry's", "[pipeline][vae]") {
  test_support::DemoModel demo("sdxl_vae_placement_test");
  const auto& reg = *demo.registry;
  const auto& m = *demo.model;

  sdk::Options no_upcast;  // the demo VAE asks for float32 upcasting, as SDXL's original VAE does
  no_upcast.set("force_upcast", std::string("off"));
  const plugins::Placement bf16{c10::Device(c10::kCPU), at::kBFloat16};
  auto placed = reg.create_vae_variant(m.vae_feature, &no_upcast, &bf16);
  auto plain = reg.create_vae_variant(m.vae_feature, &no_upcast);
  REQUIRE(placed.ok());
  REQUIRE(plain.ok());
  const sdk::WeightSet weights{m.vae_source, &m.vae_weights, m.vae_config_json};
  REQUIRE(placed.value()->load(weights).ok());
  REQUIRE(plain.value()->load(weights).ok());
  const at::Tensor z = at::randn({1, 4, 8, 8});
  auto a = placed.value()->decode(z, nullptr);
  auto b = plain.value()->decode(z, nullptr);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  // The plugin hands back float32 either way; the bfloat16 computation shows in the rounding: not
  // the float32 picture bit for bit, but the same picture to bfloat16's precision.
  const at::Tensor diff = (a.value().to(at::kFloat) - b.value()).abs();
  CHECK(diff.max().item<double>() > 0);
  CHECK(diff.max().item<double>() < 0.1);
  // Without a placement, creating it again gives the float32 result exactly (decoding is deterministic).
  auto again = reg.create_vae_variant(m.vae_feature, &no_upcast);
  REQUIRE(again.ok());
  REQUIRE(again.value()->load(weights).ok());
  CHECK(at::equal(again.value()->decode(z, nullptr).value(), b.value()));
}

TEST_CASE("a GPU without room for the smallest VAE tile decodes on the host instead", "[pipeline][vae][vae-choice]") {
  test_support::DemoModel demo("sdxl_vae_placement_test");
  const auto& reg = *demo.registry;
  auto& model = *demo.model;
  const at::Tensor latents = at::randn({1, 4, 32, 32});
  auto reference = model.vae->decode(latents, nullptr);
  REQUIRE(reference.ok());

  // Pretend the model runs on a GPU with almost no room (only the ledger's books say so: the
  // weights stay on the CPU, and nothing is ever created on the simulated device).
  const c10::Device gpu(c10::kCUDA, 0), cpu(c10::kCPU);
  auto& ledger = memory::process_ledger();
  model.device = gpu;
  ledger.set_budget(gpu, ledger.accounts()[gpu.str()].used + 1024);
  auto moved = pipeline::choose_vae_for_decode(model, reg, latents.sizes());
  ledger.set_budget(cpu, ledger.accounts()[cpu.str()].used + 1024);  // and the host is full too
  auto refused = pipeline::choose_vae_for_decode(model, reg, latents.sizes());
  ledger.set_budget(cpu, 0);
  ledger.set_budget(gpu, 0);
  model.device = cpu;

  INFO(moved.status().message());
  REQUIRE(moved.ok());
  CHECK(moved.value().device == cpu);
  REQUIRE(moved.value().owned != nullptr);
  CHECK_THAT(moved.value().reason, Catch::Contains("decode on the host") && Catch::Contains("cuda:0"));
  auto on_host = moved.value().vae->decode(latents, nullptr);
  REQUIRE(on_host.ok());
  CHECK(at::equal(on_host.value(), reference.value()));  // the same float32 decode, on the host
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == sdk::StatusCode::out_of_memory);
  CHECK_THAT(refused.status().message(), Catch::Contains("nor on the host"));
}
