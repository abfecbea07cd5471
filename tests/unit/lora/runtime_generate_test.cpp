// Runtime LoRA mode through the whole pipeline (pipeline::ModelLoras on the demo model): the
// generated latents equal those of merge mode within float32 rounding, no weight is ever written,
// and switching to no LoRA gives the plain model's latents bit-identically.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "demo_model_fixture.h"
#include "io/safetensors.h"
#include "models/common/layers.h"
#include "pipeline/lora_stack.h"

namespace fs = std::filesystem;
using namespace sdxl;

namespace {

// A kohya LoRA on one UNet attention projection, one UNet conv and one text-encoder projection.
fs::path write_lora(const fs::path& dir) {
  at::manual_seed(5);
  const std::string q = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q";
  const std::string te = "lora_te1_text_model_encoder_layers_0_self_attn_q_proj";
  std::vector<std::pair<std::string, at::Tensor>> t = {
      {q + ".lora_down.weight", at::randn({4, 64}) * 0.2},  {q + ".lora_up.weight", at::randn({64, 4}) * 0.2},
      {q + ".alpha", at::full({}, 2.0)},                    {te + ".lora_down.weight", at::randn({4, 32}) * 0.2},
      {te + ".lora_up.weight", at::randn({32, 4}) * 0.2},   {te + ".alpha", at::full({}, 4.0)}};
  const fs::path p = dir / "runtime_kohya.safetensors";
  REQUIRE(io::write_safetensors(p, t, {{"ss_network_module", "networks.lora"}}).ok());
  return p;
}

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
  const fs::path dir = fs::temp_directory_path() / "sdxl_lora_runtime_generate_test";
  const fs::path lora = write_lora(dir);
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
