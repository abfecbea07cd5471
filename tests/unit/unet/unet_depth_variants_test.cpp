// Distilled SDXL variants (SSD-1B, Vega): transformer depth per layer inside a level, an explicit
// reverse table for the up side, a single-resnet mid block or none. Checked by construction: a
// transformer block whose output projections are zero is an exact identity (each sub-layer adds
// 0 to its residual), and so is a resnet whose conv2 is zero. A deeper model padded with such
// blocks must therefore compute exactly what the shallower model computes.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "models/loader/config_inference.h"
#include "bench/random_sdxl.h"
#include "models/unet/unet_model.h"

using namespace sdxl;

namespace {

nlohmann::json base_config() { return bench::tiny_unet_config(); }  // the golden tiny model's shape

models::UNetConfig parse(const nlohmann::json& j) {
  auto c = models::UNetConfig::from_diffusers_json(j, "test config");
  INFO(c.status().message());
  REQUIRE(c.ok());
  return *c;
}

std::map<std::string, at::Tensor> random_weights(const models::UNetConfig& c) {
  auto shapes = models::UNet2DConditionModel::parameter_shapes(c);
  REQUIRE(shapes.ok());
  std::map<std::string, at::Tensor> w;
  for (const auto& [k, s] : *shapes) w[k] = at::randn(s).mul_(0.1);
  return w;
}

// Weights for `deep` that reuse `shallow`'s tensors and make every extra tensor an identity.
std::map<std::string, at::Tensor> padded_weights(const models::UNetConfig& deep,
                                                 const std::map<std::string, at::Tensor>& shallow) {
  auto w = random_weights(deep);
  for (auto& [k, t] : w) {
    auto it = shallow.find(k);
    if (it != shallow.end()) {
      REQUIRE(it->second.sizes() == t.sizes());
      t = it->second;
      continue;
    }
    const bool zero_out = k.find(".attn1.to_out.0.") != std::string::npos ||
                          k.find(".attn2.to_out.0.") != std::string::npos || k.find(".ff.net.2.") != std::string::npos ||
                          k.find(".proj_out.") != std::string::npos || k.find(".conv2.") != std::string::npos;
    if (zero_out) t.zero_();
  }
  return w;
}

std::shared_ptr<models::UNet2DConditionModel> build(const std::map<std::string, at::Tensor>& w,
                                                    const models::UNetConfig& c) {
  auto unet = models::UNet2DConditionModel::load(w, c, "test", at::kFloat, at::kCPU);
  INFO(unet.status().message());
  REQUIRE(unet.ok());
  return unet.value();
}

at::Tensor run(const models::UNet2DConditionModel& unet) {
  at::manual_seed(7);
  models::UNetInputs in;
  in.sample = at::randn({2, 4, 16, 8});
  in.timestep = at::full({2}, 400.f);
  in.encoder_hidden_states = at::randn({2, 77, 64});
  in.text_embeds = at::randn({2, 32});
  in.time_ids = at::rand({2, 6}).mul_(100);
  auto eps = unet.forward(in);
  INFO(eps.status().message());
  REQUIRE(eps.ok());
  return *eps;
}

models::loader::ShapeMap shape_map(const std::map<std::string, at::Tensor>& w) {
  models::loader::ShapeMap m;
  for (const auto& [k, t] : w) m[k] = t.sizes().vec();
  return m;
}

}  // namespace

TEST_CASE("unet: per-layer transformer depths with a reverse table (SSD-1B style)", "[unet]") {
  const auto shallow_cfg = parse(base_config());
  at::manual_seed(1);
  const auto shallow_w = random_weights(shallow_cfg);

  auto deep_json = base_config();
  deep_json["transformer_layers_per_block"] = {1, {1, 2}, {2, 3}};
  deep_json["reverse_transformer_layers_per_block"] = {{3, 2, 2}, {2, 1, 3}, 1};
  const auto deep_cfg = parse(deep_json);
  CHECK(deep_cfg.down_depth(1, 1) == 2);
  CHECK(deep_cfg.down_depth(2, 1) == 3);
  CHECK(deep_cfg.up_depth(0, 0) == 3);
  CHECK(deep_cfg.up_depth(1, 2) == 3);
  CHECK(deep_cfg.mid_transformer_layers == 2);  // diffusers: first layer of the last entry

  const auto deep_w = padded_weights(deep_cfg, shallow_w);
  CHECK(deep_w.count("down_blocks.2.attentions.1.transformer_blocks.2.norm1.weight"));
  CHECK_FALSE(deep_w.count("down_blocks.2.attentions.0.transformer_blocks.2.norm1.weight"));
  CHECK(deep_w.count("up_blocks.0.attentions.0.transformer_blocks.2.norm1.weight"));
  CHECK(deep_w.size() > shallow_w.size());

  const auto a = run(*build(shallow_w, shallow_cfg));
  const auto b = run(*build(deep_w, deep_cfg));
  CHECK(at::allclose(a, b, 1e-5, 1e-6));

  // The loader infers the same tables from the weights alone, and accepts the config as given.
  auto inferred = models::loader::infer_unet_config(shape_map(deep_w), 32, "deep.safetensors");
  INFO(inferred.status().message());
  REQUIRE(inferred.ok());
  CHECK((*inferred)["transformer_layers_per_block"] == nlohmann::json({{1, 1}, {1, 2}, {2, 3}}));
  CHECK((*inferred)["reverse_transformer_layers_per_block"] == nlohmann::json({{3, 2, 2}, {2, 1, 3}, {1, 1, 1}}));
  CHECK(models::loader::validate_unet_config(deep_json, *inferred, "config.json", "deep.safetensors").ok());
  auto wrong = deep_json;
  wrong["reverse_transformer_layers_per_block"] = {{3, 2, 2}, {2, 1, 1}, 1};
  auto st = models::loader::validate_unet_config(wrong, *inferred, "config.json", "deep.safetensors");
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find("depth") != std::string::npos);

  // The plain model still infers diffusers' plain list (no reverse table).
  auto plain = models::loader::infer_unet_config(shape_map(shallow_w), 32, "plain.safetensors");
  REQUIRE(plain.ok());
  CHECK((*plain)["transformer_layers_per_block"] == nlohmann::json({1, 1, 2}));
  CHECK_FALSE(plain->contains("reverse_transformer_layers_per_block"));
}

TEST_CASE("unet: single-resnet mid block (UNetMidBlock2D) and no mid block", "[unet]") {
  const auto full_cfg = parse(base_config());
  for (const char* type : {"UNetMidBlock2D", ""}) {
    auto j = base_config();
    j["mid_block_type"] = *type ? nlohmann::json(type) : nlohmann::json();
    const auto small_cfg = parse(j);
    CHECK(small_cfg.mid_block_type == type);
    at::manual_seed(3);
    const auto small_w = random_weights(small_cfg);
    CHECK_FALSE(small_w.count("mid_block.attentions.0.proj_in.weight"));
    CHECK(small_w.count("mid_block.resnets.0.conv1.weight") == (*type ? 1u : 0u));
    // The full mid block with identity attention and second resnet (and, for "none", an identity
    // first resnet too) computes the same.
    auto full_w = padded_weights(full_cfg, small_w);
    if (!*type) {
      full_w.at("mid_block.resnets.0.conv2.weight").zero_();
      full_w.at("mid_block.resnets.0.conv2.bias").zero_();
    }
    const auto a = run(*build(small_w, small_cfg));
    const auto b = run(*build(full_w, full_cfg));
    CHECK(at::allclose(a, b, 1e-5, 1e-6));

    auto inferred = models::loader::infer_unet_config(shape_map(small_w), 32, "distilled.safetensors");
    INFO(inferred.status().message());
    REQUIRE(inferred.ok());
    CHECK((*inferred)["mid_block_type"] == j["mid_block_type"]);
  }
}

TEST_CASE("unet config: malformed depth tables are refused with the field named", "[unet]") {
  auto j = base_config();
  j["transformer_layers_per_block"] = {1, {1, 2}, 2};  // per-layer lists need the reverse table
  auto c = models::UNetConfig::from_diffusers_json(j, "cfg.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("reverse_transformer_layers_per_block") != std::string::npos);
  j["reverse_transformer_layers_per_block"] = {{2, 2}, {1, 1, 1}, 1};  // 2 entries for 3 layers
  c = models::UNetConfig::from_diffusers_json(j, "cfg.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("cfg.json") != std::string::npos);
  j["transformer_layers_per_block"] = {1, {1, 2, 3}, 2};  // 3 entries for 2 layers
  CHECK_FALSE(models::UNetConfig::from_diffusers_json(j, "cfg.json").ok());
  j = base_config();
  j["mid_block_type"] = "UNetMidBlock2DSimpleCrossAttn";
  CHECK_FALSE(models::UNetConfig::from_diffusers_json(j, "cfg.json").ok());
}
