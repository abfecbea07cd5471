// UNet variants built from configs with random weights: a 9-channel inpainting conv_in and a
// 4-level refiner-shaped UNet (no attention in the first and last level, 5 time ids).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "models/unet/unet_model.h"

using namespace sdxl;

namespace {

std::shared_ptr<models::UNet2DConditionModel> random_unet(const nlohmann::json& j) {
  auto cfg = models::UNetConfig::from_diffusers_json(j, "test config");
  INFO(cfg.status().message());
  REQUIRE(cfg.ok());
  auto shapes = models::UNet2DConditionModel::parameter_shapes(*cfg);
  REQUIRE(shapes.ok());
  std::map<std::string, at::Tensor> w;
  for (const auto& [k, s] : *shapes) w[k] = at::randn(s).mul_(0.1);
  auto unet = models::UNet2DConditionModel::load(w, *cfg, "random", at::kFloat, at::kCPU);
  INFO(unet.status().message());
  REQUIRE(unet.ok());
  return unet.value();
}

models::UNetInputs inputs(std::int64_t b, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t ctx,
                          std::int64_t pooled, std::int64_t n_ids) {
  models::UNetInputs in;
  in.sample = at::randn({b, c, h, w});
  in.timestep = at::full({b}, 400.f);
  in.encoder_hidden_states = at::randn({b, 77, ctx});
  in.text_embeds = at::randn({b, pooled});
  in.time_ids = at::rand({b, n_ids}).mul_(100);
  return in;
}

}  // namespace

TEST_CASE("unet: 9-channel inpainting input", "[unet]") {
  nlohmann::json j = {{"block_out_channels", {32, 64, 64}}, {"layers_per_block", 2},
                      {"transformer_layers_per_block", {1, 1, 2}}, {"attention_head_dim", {2, 2, 4}},
                      {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}},
                      {"up_block_types", {"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"}},
                      {"cross_attention_dim", 64}, {"addition_time_embed_dim", 8},
                      {"projection_class_embeddings_input_dim", 80}, {"in_channels", 9}, {"out_channels", 4}};
  auto unet = random_unet(j);
  auto eps = unet->forward(inputs(2, 9, 16, 8, 64, 32, 6));
  INFO(eps.status().message());
  REQUIRE(eps.ok());
  CHECK(eps->sizes() == at::IntArrayRef({2, 4, 16, 8}));
  CHECK_FALSE(unet->forward(inputs(2, 4, 16, 8, 64, 32, 6)).ok());  // 4 channels into a 9-channel conv_in
}

TEST_CASE("unet: refiner-shaped 4-level UNet (attention only in the middle levels)", "[unet]") {
  nlohmann::json j = {{"block_out_channels", {32, 64, 64, 64}}, {"layers_per_block", 2},
                      {"transformer_layers_per_block", 2}, {"attention_head_dim", {1, 2, 2, 2}},
                      {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
                      {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"}},
                      {"cross_attention_dim", 32}, {"addition_time_embed_dim", 8},
                      {"projection_class_embeddings_input_dim", 32 + 5 * 8}, {"in_channels", 4}, {"out_channels", 4}};
  auto unet = random_unet(j);
  const auto& c = unet->config();
  CHECK(c.transformer_layers == std::vector<std::int64_t>{0, 2, 2, 0});
  CHECK(c.up_transformer_layers == std::vector<std::int64_t>{0, 2, 2, 0});
  CHECK(c.mid_transformer_layers == 2);
  auto shapes = models::UNet2DConditionModel::parameter_shapes(c);
  REQUIRE(shapes.ok());
  CHECK(shapes->count("up_blocks.0.upsamplers.0.conv.weight"));
  CHECK_FALSE(shapes->count("up_blocks.3.upsamplers.0.conv.weight"));
  CHECK(shapes->count("down_blocks.2.downsamplers.0.conv.weight"));
  CHECK_FALSE(shapes->count("down_blocks.3.downsamplers.0.conv.weight"));
  auto eps = unet->forward(inputs(3, 4, 24, 16, 32, 32, 5));
  INFO(eps.status().message());
  REQUIRE(eps.ok());
  CHECK(eps->sizes() == at::IntArrayRef({3, 4, 24, 16}));
  CHECK(at::isfinite(*eps).all().item<bool>());
  // ControlNet residual count for 4 levels: 1 + 4 * 3 - 1 = 12.
  auto in = inputs(1, 4, 24, 16, 32, 32, 5);
  in.down_residuals.assign(9, at::zeros({1}));
  auto bad = unet->forward(in);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("12") != std::string::npos);
}

TEST_CASE("unet config: variants outside SDXL are refused with a message", "[unet]") {
  nlohmann::json j = {{"block_out_channels", {32, 64}}, {"layers_per_block", 2}, {"attention_head_dim", 2},
                      {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D"}},
                      {"up_block_types", {"CrossAttnUpBlock2D", "UpBlock2D"}}, {"cross_attention_dim", 64}};
  CHECK(models::UNetConfig::from_diffusers_json(j, "ok").ok());
  auto conv_proj = j;
  conv_proj["use_linear_projection"] = false;
  CHECK_FALSE(models::UNetConfig::from_diffusers_json(conv_proj, "c").ok());
  auto heads = j;
  heads["attention_head_dim"] = 3;  // 32 channels do not split into 3 heads
  auto h = models::UNetConfig::from_diffusers_json(heads, "heads.json");
  REQUIRE_FALSE(h.ok());
  CHECK(h.status().message().find("heads.json") != std::string::npos);
  auto types = j;
  types["down_block_types"] = {"DownBlock2D"};
  CHECK_FALSE(models::UNetConfig::from_diffusers_json(types, "t").ok());
  CHECK_FALSE(models::UNetConfig::from_diffusers_json(nlohmann::json::array(), "t").ok());
}
