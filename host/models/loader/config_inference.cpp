#include "models/loader/config_inference.h"

#include <algorithm>

namespace sdxl::models::loader {
namespace {

// SDXL conventions for what no shape stores (sdxl_full_layouts.json, inference_rules).
constexpr std::int64_t kHeadSize = 64;
constexpr std::int64_t kTimeIdWidth = 256;
constexpr std::int64_t kDefaultPooled = 1280;

const std::vector<std::int64_t>* find(const ShapeMap& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? nullptr : &it->second;
}

// Number of consecutive indices i = 0, 1, ... for which prefix + i + suffix exists.
std::int64_t count_indexed(const ShapeMap& m, const std::string& prefix, const std::string& suffix) {
  std::int64_t n = 0;
  while (m.count(prefix + std::to_string(n) + suffix)) ++n;
  return n;
}

sdk::Status missing(const std::string& source, const std::string& key) {
  return sdk::invalid_argument(source + ": cannot infer the architecture, tensor '" + key + "' is missing or malformed");
}

// Transformer depth per entry of a field that may be a scalar or a per-level list.
std::int64_t level_value(const nlohmann::json& v, std::size_t l) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_array() && l < v.size() && v[l].is_number_integer()) return v[l].get<std::int64_t>();
  return -1;
}

}  // namespace

sdk::Result<nlohmann::json> infer_unet_config(const ShapeMap& m, std::int64_t pooled_dim, const std::string& source) {
  auto conv_in = find(m, "conv_in.weight");
  auto conv_out = find(m, "conv_out.weight");
  auto adm = find(m, "add_embedding.linear_1.weight");
  if (!conv_in || conv_in->size() != 4) return missing(source, "conv_in.weight");
  if (!conv_out || conv_out->size() != 4) return missing(source, "conv_out.weight");
  if (!adm || adm->size() != 2) return missing(source, "add_embedding.linear_1.weight");

  const std::int64_t levels = count_indexed(m, "down_blocks.", ".resnets.0.conv2.weight");
  if (levels == 0) return missing(source, "down_blocks.0.resnets.0.conv2.weight");
  const std::int64_t layers = count_indexed(m, "down_blocks.0.resnets.", ".conv1.weight");
  std::vector<std::int64_t> channels, depth, heads;
  std::vector<std::string> down_types, up_types;
  std::int64_t context = -1;
  for (std::int64_t l = 0; l < levels; ++l) {
    const std::string lp = "down_blocks." + std::to_string(l);
    channels.push_back(m.at(lp + ".resnets.0.conv2.weight")[0]);
    const auto d = count_indexed(m, lp + ".attentions.0.transformer_blocks.", ".norm1.weight");
    depth.push_back(d);
    down_types.push_back(d > 0 ? "CrossAttnDownBlock2D" : "DownBlock2D");
    heads.push_back(std::max<std::int64_t>(1, channels.back() / kHeadSize));
    if (d > 0 && context < 0) {
      auto k = find(m, lp + ".attentions.0.transformer_blocks.0.attn2.to_k.weight");
      if (!k || k->size() != 2) return missing(source, lp + ".attentions.0.transformer_blocks.0.attn2.to_k.weight");
      context = (*k)[1];
    }
  }
  const std::int64_t mid_depth = count_indexed(m, "mid_block.attentions.0.transformer_blocks.", ".norm1.weight");
  if (mid_depth == 0) return missing(source, "mid_block.attentions.0.transformer_blocks.0.norm1.weight");
  if (context < 0) {
    auto k = find(m, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight");
    if (!k || k->size() != 2) return missing(source, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight");
    context = (*k)[1];
  }
  for (std::int64_t u = 0; u < levels; ++u)
    up_types.push_back(m.count("up_blocks." + std::to_string(u) + ".attentions.0.proj_in.weight") ? "CrossAttnUpBlock2D"
                                                                                                 : "UpBlock2D");
  // diffusers reads the mid depth from the last entry: a last level without attention carries it.
  std::vector<std::int64_t> tl;
  for (std::int64_t l = 0; l < levels; ++l) tl.push_back(depth[l] > 0 ? depth[l] : (l == levels - 1 ? mid_depth : 1));
  if (depth.back() > 0 && depth.back() != mid_depth)
    return sdk::invalid_argument(source + ": mid block depth " + std::to_string(mid_depth) +
                                 " differs from the last level's " + std::to_string(depth.back()) +
                                 " (not expressible as a diffusers config)");

  // adm input = pooled + n_ids * width. Width 256 by SDXL convention; otherwise assume SDXL's 6 ids.
  const std::int64_t adm_in = (*adm)[1];
  const std::int64_t pooled = pooled_dim > 0 ? pooled_dim : kDefaultPooled;
  const std::int64_t rest = adm_in - pooled;
  // null when no split works: only a supplied config can tell then (load_checkpoint reports it).
  nlohmann::json id_width = nullptr;
  if (rest > 0 && rest % kTimeIdWidth == 0) id_width = kTimeIdWidth;
  else if (rest > 0 && rest % 6 == 0) id_width = rest / 6;

  nlohmann::json c = {
      {"_class_name", "UNet2DConditionModel"}, {"_inferred_from_weights", true},
      {"act_fn", "silu"}, {"addition_embed_type", "text_time"},
      {"addition_time_embed_dim", id_width}, {"attention_head_dim", heads},
      {"block_out_channels", channels}, {"center_input_sample", false},
      {"cross_attention_dim", context}, {"down_block_types", down_types},
      {"downsample_padding", 1}, {"flip_sin_to_cos", true}, {"freq_shift", 0},
      {"in_channels", (*conv_in)[1]}, {"layers_per_block", layers},
      {"mid_block_type", "UNetMidBlock2DCrossAttn"}, {"norm_eps", 1e-5}, {"norm_num_groups", 32},
      {"out_channels", (*conv_out)[0]}, {"projection_class_embeddings_input_dim", adm_in},
      {"transformer_layers_per_block", tl}, {"up_block_types", up_types},
      {"use_linear_projection", true}};
  return c;
}

sdk::Result<nlohmann::json> infer_vae_config(const ShapeMap& m, const std::string& source) {
  const std::int64_t levels = count_indexed(m, "encoder.down_blocks.", ".resnets.0.conv2.weight");
  auto conv_in = find(m, "encoder.conv_in.weight");
  auto conv_out = find(m, "decoder.conv_out.weight");
  auto pq = find(m, "post_quant_conv.weight");
  if (levels == 0) return missing(source, "encoder.down_blocks.0.resnets.0.conv2.weight");
  if (!conv_in || conv_in->size() != 4) return missing(source, "encoder.conv_in.weight");
  if (!conv_out || conv_out->size() != 4) return missing(source, "decoder.conv_out.weight");
  if (!pq || pq->size() != 4) return missing(source, "post_quant_conv.weight");
  std::vector<std::int64_t> channels;
  for (std::int64_t l = 0; l < levels; ++l)
    channels.push_back(m.at("encoder.down_blocks." + std::to_string(l) + ".resnets.0.conv2.weight")[0]);
  nlohmann::json c = {{"_class_name", "AutoencoderKL"}, {"_inferred_from_weights", true},
                      {"act_fn", "silu"}, {"block_out_channels", channels},
                      {"down_block_types", std::vector<std::string>(levels, "DownEncoderBlock2D")},
                      {"up_block_types", std::vector<std::string>(levels, "UpDecoderBlock2D")},
                      {"force_upcast", true}, {"in_channels", (*conv_in)[1]},
                      {"latent_channels", (*pq)[0]},
                      {"layers_per_block", count_indexed(m, "encoder.down_blocks.0.resnets.", ".conv1.weight")},
                      {"norm_num_groups", 32}, {"out_channels", (*conv_out)[0]},
                      {"scaling_factor", 0.13025}};
  return c;
}

sdk::Result<nlohmann::json> infer_text_encoder_config(const ShapeMap& m, bool with_projection, const std::string& source) {
  auto tok = find(m, "text_model.embeddings.token_embedding.weight");
  auto pos = find(m, "text_model.embeddings.position_embedding.weight");
  auto fc1 = find(m, "text_model.encoder.layers.0.mlp.fc1.weight");
  if (!tok || tok->size() != 2) return missing(source, "text_model.embeddings.token_embedding.weight");
  if (!pos || pos->size() != 2) return missing(source, "text_model.embeddings.position_embedding.weight");
  if (!fc1 || fc1->size() != 2) return missing(source, "text_model.encoder.layers.0.mlp.fc1.weight");
  const std::int64_t width = (*tok)[1];
  nlohmann::json c = {{"_inferred_from_weights", true},
                      {"architectures", {with_projection ? "CLIPTextModelWithProjection" : "CLIPTextModel"}},
                      {"hidden_act", with_projection ? "gelu" : "quick_gelu"},
                      {"hidden_size", width},
                      {"intermediate_size", (*fc1)[0]},
                      {"layer_norm_eps", 1e-5},
                      {"max_position_embeddings", (*pos)[0]},
                      {"model_type", "clip_text_model"},
                      {"num_attention_heads", std::max<std::int64_t>(1, width / kHeadSize)},
                      {"num_hidden_layers", count_indexed(m, "text_model.encoder.layers.", ".mlp.fc1.weight")},
                      {"vocab_size", (*tok)[0]}};
  if (with_projection) {
    auto proj = find(m, "text_projection.weight");
    if (!proj || proj->size() != 2) return missing(source, "text_projection.weight");
    c["projection_dim"] = (*proj)[0];
  }
  return c;
}

sdk::Status validate_unet_config(const nlohmann::json& config, const nlohmann::json& inferred,
                                 const std::string& config_source, const std::string& weights_source) {
  auto differ = [&](const std::string& field, const nlohmann::json& a, const nlohmann::json& b) {
    return sdk::invalid_argument(config_source + " does not describe the UNet in " + weights_source + ": " + field +
                                 " is " + a.dump() + " in the config but " + b.dump() + " in the weights");
  };
  for (const char* f : {"block_out_channels", "layers_per_block", "in_channels", "out_channels", "cross_attention_dim",
                        "projection_class_embeddings_input_dim", "down_block_types", "up_block_types"}) {
    const auto a = config.value(f, nlohmann::json());
    if (a != inferred.at(f)) return differ(f, a, inferred.at(f));
  }
  // Depths only matter where a level has attention (and the last entry gives the mid block's).
  const auto& types = inferred.at("down_block_types");
  const auto a = config.value("transformer_layers_per_block", nlohmann::json(1));
  const auto& b = inferred.at("transformer_layers_per_block");
  for (std::size_t l = 0; l < types.size(); ++l) {
    const bool relevant = types[l] == "CrossAttnDownBlock2D" || l + 1 == types.size();
    if (relevant && level_value(a, l) != level_value(b, l)) return differ("transformer_layers_per_block", a, b);
  }
  return sdk::Status::Ok();
}

}  // namespace sdxl::models::loader
