// Runtime LoRA mode through the whole pipeline (pipeline::ModelLoras on the demo model): the
// generated latents equal those of merge mode within float32 rounding, no weight is ever written,
// and switching to no LoRA gives the plain model's latents bit-identically.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "demo_kohya_lora.h"
#include "demo_model_fixture.h"
#include "models/common/layers.h"
#include "pipeline/lora_stack.h"
#include "test_paths.h"

namespace fs = std::filesystem;
using namespace sdxl;

namespace {

std::map<std::string, at::Tensor> snapshot(const pipeline::SdxlModel& m) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [n, t] : m.unet->parameters()) out["unet." + n] = t.clone();
  for (const auto& [n, t] : m.text->te1().parameters()) out["te1." + n] = t.clone();
  return out;
}

bool unchanged(const pipeline::SdxlModel& m, const std::map<std::string, at::Tensor>& snap) {
  for (const auto& [n, t] : m.unet->parameters())
    if (!at::equal(t, snap.at("unet." + n))) return false;
  for (const auto& [n, t] : m.text->te1().parameters())
    if (!at::equal(t, snap.at("te1." + n))) return false;
  return true;
}

}  // namespace

TEST_CASE("runtime LoRA mode generates what merge mode generates, weights untouched", "[lora][runtime]") {
  test_support::DemoModel demo("sdxl_lora_runtime_generate_test");
  const auto& reg = *demo.registry;
  auto& model = *demo.model;
  const fs::path dir = sdxl::test_paths::scratch_dir() / "sdxl_lora_runtime_generate_test";
  const fs::path lora = dir / "runtime_kohya.safetensors";
  test_support::write_demo_kohya_lora(lora, {5, 0.2, 2.0, true, 4.0});
  const auto snap = snapshot(model);
  const at::Tensor baseline = test_support::generate_latents(model, reg);

  at::Tensor merged;
  {
    auto m = pipeline::ModelLoras::create(model, reg, pipeline::LoraMode::merge);
    REQUIRE(m.ok());
    REQUIRE(m.value()->apply({{lora, 0.9, 0.6}}).ok());
    merged = test_support::generate_latents(model, reg);
    REQUIRE(m.value()->apply({}).ok());
  }
  REQUIRE(unchanged(model, snap));

  auto rt = pipeline::ModelLoras::create(model, reg, pipeline::LoraMode::runtime);
  REQUIRE(rt.ok());
  CHECK(rt.value()->mode() == pipeline::LoraMode::runtime);
  auto st = rt.value()->apply({{lora, 0.9, 0.6}});
  INFO((st.ok() ? "" : st.message()));
  REQUIRE(st.ok());
  CHECK(models::layer_adapter_count() == 2);
  const at::Tensor runtime = test_support::generate_latents(model, reg);
  CHECK(unchanged(model, snap));
  CHECK_FALSE(at::allclose(merged, baseline, 1e-3, 1e-3));  // the LoRA matters
  const double err = (runtime - merged).abs().max().item<double>() / merged.abs().max().item<double>();
  CHECK(err < 1e-4);

  REQUIRE(rt.value()->apply({}).ok());
  CHECK(models::layer_adapter_count() == 0);
  CHECK(at::equal(test_support::generate_latents(model, reg), baseline));
}
