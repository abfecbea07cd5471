#include "models/demo/demo_shapes.h"

#include "models/unet/unet_model.h"

namespace sdxl::models::demo {
namespace {

using Shape = std::vector<std::int64_t>;

void add(ShapeList& out, const std::string& name, Shape shape) { out.emplace_back(name, std::move(shape)); }
void norm(ShapeList& out, const std::string& p, std::int64_t c) {
  add(out, p + ".weight", {c});
  add(out, p + ".bias", {c});
}
void conv(ShapeList& out, const std::string& p, std::int64_t o, std::int64_t i, std::int64_t k) {
  add(out, p + ".weight", {o, i, k, k});
  add(out, p + ".bias", {o});
}
void linear(ShapeList& out, const std::string& p, std::int64_t o, std::int64_t i, bool bias = true) {
  add(out, p + ".weight", {o, i});
  if (bias) add(out, p + ".bias", {o});
}
void resnet(ShapeList& out, const std::string& p, std::int64_t in, std::int64_t o) {
  norm(out, p + ".norm1", in);
  conv(out, p + ".conv1", o, in, 3);
  norm(out, p + ".norm2", o);
  conv(out, p + ".conv2", o, o, 3);
  if (in != o) conv(out, p + ".conv_shortcut", o, in, 1);
}
void vae_mid(ShapeList& out, const std::string& p, std::int64_t c) {
  resnet(out, p + ".resnets.0", c, c);
  norm(out, p + ".attentions.0.group_norm", c);
  for (const char* n : {"to_q", "to_k", "to_v", "to_out.0"}) linear(out, p + ".attentions.0." + n, c, c);
  resnet(out, p + ".resnets.1", c, c);
}

}  // namespace

const DemoConfigs& demo_configs() {
  static const DemoConfigs c = [] {
    DemoConfigs d;
    d.unet = {{"_class_name", "UNet2DConditionModel"},
              {"addition_embed_type", "text_time"},
              {"addition_time_embed_dim", 8},
              {"attention_head_dim", {2, 2, 4}},
              {"block_out_channels", {32, 64, 64}},
              {"cross_attention_dim", 64},
              {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}},
              {"up_block_types", {"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"}},
              {"in_channels", 4},
              {"out_channels", 4},
              {"layers_per_block", 2},
              {"norm_num_groups", 32},
              {"projection_class_embeddings_input_dim", 80},
              {"transformer_layers_per_block", {1, 1, 2}},
              {"use_linear_projection", true},
              {"sample_size", 16}};
    d.vae = {{"_class_name", "AutoencoderKL"}, {"block_out_channels", {32, 64, 64, 64}},
             {"down_block_types", {"DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"}},
             {"up_block_types", {"UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"}},
             {"in_channels", 3}, {"out_channels", 3}, {"latent_channels", 4}, {"layers_per_block", 2},
             {"norm_num_groups", 32}, {"scaling_factor", 0.13025}, {"force_upcast", true}};
    auto clip = [](const char* arch, const char* act, std::int64_t intermediate) {
      return nlohmann::json{{"architectures", {arch}}, {"hidden_act", act}, {"hidden_size", 32},
                            {"intermediate_size", intermediate}, {"layer_norm_eps", 1e-5},
                            {"max_position_embeddings", 77}, {"num_attention_heads", 4},
                            {"num_hidden_layers", 4}, {"projection_dim", 32}, {"vocab_size", 49408},
                            {"bos_token_id", 49406}, {"eos_token_id", 49407}, {"pad_token_id", 49407}};
    };
    d.text_encoder = clip("CLIPTextModel", "quick_gelu", 37);
    d.text_encoder_2 = clip("CLIPTextModelWithProjection", "gelu", 64);
    return d;
  }();
  return c;
}

ShapeList autoencoder_kl_shapes(const nlohmann::json& cfg) {
  const auto ch = cfg.at("block_out_channels").get<std::vector<std::int64_t>>();
  const auto layers = cfg.value("layers_per_block", 2);
  const auto latent = cfg.value("latent_channels", 4);
  const auto in_ch = cfg.value("in_channels", 3), out_ch = cfg.value("out_channels", 3);
  ShapeList out;
  conv(out, "encoder.conv_in", ch[0], in_ch, 3);
  std::int64_t prev = ch[0];
  for (std::size_t i = 0; i < ch.size(); ++i) {
    const std::string p = "encoder.down_blocks." + std::to_string(i);
    for (int j = 0; j < layers; ++j) resnet(out, p + ".resnets." + std::to_string(j), j == 0 ? prev : ch[i], ch[i]);
    if (i + 1 < ch.size()) conv(out, p + ".downsamplers.0.conv", ch[i], ch[i], 3);
    prev = ch[i];
  }
  vae_mid(out, "encoder.mid_block", ch.back());
  norm(out, "encoder.conv_norm_out", ch.back());
  conv(out, "encoder.conv_out", 2 * latent, ch.back(), 3);
  conv(out, "quant_conv", 2 * latent, 2 * latent, 1);
  conv(out, "post_quant_conv", latent, latent, 1);
  conv(out, "decoder.conv_in", ch.back(), latent, 3);
  vae_mid(out, "decoder.mid_block", ch.back());
  prev = ch.back();
  for (std::size_t i = 0; i < ch.size(); ++i) {
    const std::int64_t c = ch[ch.size() - 1 - i];
    const std::string p = "decoder.up_blocks." + std::to_string(i);
    for (int j = 0; j <= layers; ++j) resnet(out, p + ".resnets." + std::to_string(j), j == 0 ? prev : c, c);
    if (i + 1 < ch.size()) conv(out, p + ".upsamplers.0.conv", c, c, 3);
    prev = c;
  }
  norm(out, "decoder.conv_norm_out", ch[0]);
  conv(out, "decoder.conv_out", out_ch, ch[0], 3);
  return out;
}

ShapeList clip_text_shapes(const nlohmann::json& cfg, bool with_projection) {
  const std::int64_t w = cfg.at("hidden_size"), inter = cfg.at("intermediate_size");
  const std::int64_t layers = cfg.at("num_hidden_layers"), vocab = cfg.at("vocab_size");
  const std::int64_t pos = cfg.value("max_position_embeddings", 77);
  ShapeList out;
  add(out, "text_model.embeddings.token_embedding.weight", {vocab, w});
  add(out, "text_model.embeddings.position_embedding.weight", {pos, w});
  for (std::int64_t i = 0; i < layers; ++i) {
    const std::string p = "text_model.encoder.layers." + std::to_string(i);
    norm(out, p + ".layer_norm1", w);
    for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) linear(out, p + ".self_attn." + n, w, w);
    norm(out, p + ".layer_norm2", w);
    linear(out, p + ".mlp.fc1", inter, w);
    linear(out, p + ".mlp.fc2", w, inter);
  }
  norm(out, "text_model.final_layer_norm", w);
  if (with_projection) linear(out, "text_projection", cfg.value("projection_dim", w), w, false);
  return out;
}

sdk::Result<ShapeList> component_shapes(const std::string& name) {
  const auto& c = demo_configs();
  if (name == "vae") return autoencoder_kl_shapes(c.vae);
  if (name == "text_encoder") return clip_text_shapes(c.text_encoder, false);
  if (name == "text_encoder_2") return clip_text_shapes(c.text_encoder_2, true);
  if (name != "unet") return sdk::invalid_argument("demo model has no component '" + name + "'");
  auto config = UNetConfig::from_diffusers_json(c.unet, "demo model unet config");
  if (!config.ok()) return config.status();
  auto shapes = UNet2DConditionModel::parameter_shapes(config.value());
  if (!shapes.ok()) return shapes.status();
  ShapeList out(shapes.value().begin(), shapes.value().end());
  return out;
}

}  // namespace sdxl::models::demo
