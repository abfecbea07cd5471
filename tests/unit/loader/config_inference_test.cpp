// Architecture inference from shapes against the real SDXL base/refiner configs, and the UNet
// module tree against the real key sets (shapes only: meta tensors, no weights).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "full_layouts.h"
#include "models/loader/config_inference.h"
#include "models/loader/key_mapping.h"
#include "models/unet/unet_model.h"

using namespace sdxl;
namespace ld = sdxl::models::loader;

namespace {

// Diffusers shapes of `component` as produced by the single-file mapping.
ld::ShapeMap mapped_shapes(const nlohmann::json& model, const std::string& component) {
  auto mapping = ld::map_single_file(testing::single_file_entries(model), "single file");
  REQUIRE(mapping.ok());
  ld::ShapeMap m;
  for (const auto& t : mapping->tensors)
    if (t.component == component) m[t.key] = t.shape;
  return m;
}

void check_unet_config_equivalent(const nlohmann::json& inferred, const nlohmann::json& real) {
  for (const char* f : {"block_out_channels", "layers_per_block", "in_channels", "out_channels", "cross_attention_dim",
                        "projection_class_embeddings_input_dim", "addition_time_embed_dim", "down_block_types",
                        "up_block_types", "attention_head_dim", "use_linear_projection", "norm_num_groups",
                        "flip_sin_to_cos", "freq_shift"}) {
    INFO(f);
    CHECK(inferred.at(f) == real.at(f));
  }
  CHECK(ld::validate_unet_config(real, inferred, "config", "weights").ok());
  // Same model once parsed: depths per level, mid depth, heads everywhere.
  auto a = models::UNetConfig::from_diffusers_json(inferred, "inferred");
  auto b = models::UNetConfig::from_diffusers_json(real, "real");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->transformer_layers == b->transformer_layers);
  CHECK(a->up_transformer_layers == b->up_transformer_layers);
  CHECK(a->mid_transformer_layers == b->mid_transformer_layers);
  CHECK(a->heads == b->heads);
  CHECK(a->up_heads == b->up_heads);
  CHECK(a->mid_heads == b->mid_heads);
}

}  // namespace

TEST_CASE("config inference: UNet, VAE and text encoders of SDXL base and refiner", "[loader]") {
  const auto* layouts = testing::full_layouts();
  if (!layouts) {
    WARN("sdxl_full_layouts.json not found, skipping");
    return;
  }
  for (const char* model_name : testing::kModelNames) {
    INFO(model_name);
    const auto& model = (*layouts)["models"][model_name];
    const auto& comps = model["diffusers"]["components"];
    for (bool from_single_file : {false, true}) {
      INFO("from single file: " << from_single_file);
      auto shapes = [&](const std::string& c) {
        return from_single_file ? mapped_shapes(model, c) : testing::diffusers_shapes(model, c);
      };
      const auto te2 = shapes("text_encoder_2");
      const std::int64_t pooled = te2.at("text_projection.weight")[0];
      auto unet = ld::infer_unet_config(shapes("unet"), pooled, model_name);
      INFO(unet.status().message());
      REQUIRE(unet.ok());
      check_unet_config_equivalent(*unet, comps["unet"]["config_json"]);

      auto vae = ld::infer_vae_config(shapes("vae"), model_name);
      REQUIRE(vae.ok());
      for (const char* f : {"block_out_channels", "layers_per_block", "latent_channels", "in_channels", "out_channels",
                            "scaling_factor", "down_block_types", "up_block_types"}) {
        INFO(f);
        CHECK(vae->at(f) == comps["vae"]["config_json"].at(f));
      }
      for (const std::string te : {"text_encoder", "text_encoder_2"}) {
        if (!comps.contains(te)) continue;
        auto c = ld::infer_text_encoder_config(shapes(te), te == "text_encoder_2", model_name);
        REQUIRE(c.ok());
        for (const char* f : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                              "max_position_embeddings", "vocab_size", "hidden_act"}) {
          INFO(te << " " << f);
          CHECK(c->at(f) == comps[te]["config_json"].at(f));
        }
        if (te == "text_encoder_2") CHECK(c->at("projection_dim") == comps[te]["config_json"].at("projection_dim"));
      }
    }
  }
}

TEST_CASE("config inference: a config that disagrees with the weights is named", "[loader]") {
  const auto* layouts = testing::full_layouts();
  if (!layouts) return;
  const auto& base = (*layouts)["models"]["sdxl-base-1.0"];
  const auto& refiner = (*layouts)["models"]["sdxl-refiner-1.0"];
  auto inferred = ld::infer_unet_config(testing::diffusers_shapes(base, "unet"), 1280, "base.safetensors");
  REQUIRE(inferred.ok());
  auto st = ld::validate_unet_config(refiner["diffusers"]["components"]["unet"]["config_json"], *inferred,
                                     "refiner/unet/config.json", "base.safetensors");
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find("refiner/unet/config.json") != std::string::npos);
  CHECK(st.message().find("block_out_channels") != std::string::npos);
}

TEST_CASE("UNet module tree consumes exactly the real SDXL UNet tensors (meta tensors)", "[loader][unet]") {
  const auto* layouts = testing::full_layouts();
  if (!layouts) return;
  for (const char* model_name : testing::kModelNames) {
    INFO(model_name);
    const auto& model = (*layouts)["models"][model_name];
    std::map<std::string, at::Tensor> weights;
    for (const auto& [k, shape] : testing::diffusers_shapes(model, "unet"))
      weights[k] = at::empty(shape, at::TensorOptions().dtype(at::kHalf).device(at::kMeta));
    auto config = models::UNetConfig::from_diffusers_json(model["diffusers"]["components"]["unet"]["config_json"], "cfg");
    REQUIRE(config.ok());
    auto unet = models::UNet2DConditionModel::load(weights, *config, model_name, at::kHalf, at::kMeta);
    INFO(unet.status().message());
    REQUIRE(unet.ok());
    const std::uint64_t params = model["diffusers"]["components"]["unet"]["param_count"].get<std::uint64_t>();
    CHECK((*unet)->resident_bytes() == 2 * params);

    // One tensor missing or mis-shaped: a clear error naming it.
    auto broken = weights;
    broken.erase("mid_block.attentions.0.proj_in.weight");
    auto missing = models::UNet2DConditionModel::load(broken, *config, model_name, at::kHalf, at::kMeta);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.status().message().find("mid_block.attentions.0.proj_in.weight") != std::string::npos);
    broken = weights;
    broken["conv_in.weight"] = at::empty({1, 2}, at::TensorOptions().dtype(at::kHalf).device(at::kMeta));
    auto shaped = models::UNet2DConditionModel::load(broken, *config, model_name, at::kHalf, at::kMeta);
    REQUIRE_FALSE(shaped.ok());
    CHECK(shaped.status().message().find("conv_in.weight") != std::string::npos);
    broken = weights;
    broken["extra.weight"] = at::empty({1}, at::TensorOptions().dtype(at::kHalf).device(at::kMeta));
    auto extra = models::UNet2DConditionModel::load(broken, *config, model_name, at::kHalf, at::kMeta);
    REQUIRE_FALSE(extra.ok());
    CHECK(extra.status().message().find("extra.weight") != std::string::npos);
  }
}

TEST_CASE("UNet parameter_shapes(config) lists exactly the real SDXL UNet tensors", "[loader][unet]") {
  const auto* layouts = testing::full_layouts();
  if (!layouts) return;
  for (const char* model_name : testing::kModelNames) {
    INFO(model_name);
    const auto& model = (*layouts)["models"][model_name];
    auto config = models::UNetConfig::from_diffusers_json(model["diffusers"]["components"]["unet"]["config_json"], "cfg");
    REQUIRE(config.ok());
    auto shapes = models::UNet2DConditionModel::parameter_shapes(*config);
    REQUIRE(shapes.ok());
    const auto expected = testing::diffusers_shapes(model, "unet");
    CHECK(shapes->size() == expected.size());
    CHECK(*shapes == expected);
  }
}
