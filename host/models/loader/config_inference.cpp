#include "models/loader/config_inference.h"

#include <algorithm>

#include "models/unet/unet_config.h"

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
  std::vector<std::int64_t> channels, heads;
  std::vector<std::vector<std::int64_t>> down_depths, up_depths;  // per level, per layer
  std::vector<std::string> down_types, up_types;
  std::int64_t context = -1;
  for (std::int64_t l = 0; l < levels; ++l) {
    const std::string lp = "down_blocks." + std::to_string(l);
    channels.push_back(m.at(lp + ".resnets.0.conv2.weight")[0]);
    std::vector<std::int64_t> d;
    for (std::int64_t j = 0; j < layers; ++j)
      d.push_back(count_indexed(m, lp + ".attentions." + std::to_string(j) + ".transformer_blocks.", ".norm1.weight"));
    const bool attn = m.count(lp + ".attentions.0.proj_in.weight") > 0;
    down_types.push_back(attn ? "CrossAttnDownBlock2D" : "DownBlock2D");
    down_depths.push_back(attn ? d : std::vector<std::int64_t>(layers, 1));
    heads.push_back(std::max<std::int64_t>(1, channels.back() / kHeadSize));
    if (attn && d[0] > 0 && context < 0) {
      auto k = find(m, lp + ".attentions.0.transformer_blocks.0.attn2.to_k.weight");
      if (!k || k->size() != 2) return missing(source, lp + ".attentions.0.transformer_blocks.0.attn2.to_k.weight");
      context = (*k)[1];
    }
  }
  // Mid block: SDXL's resnet-attention-resnet, SSD-1B's single resnet, or none.
  const bool mid_attn = m.count("mid_block.attentions.0.proj_in.weight") > 0;
  const bool mid_any = m.count("mid_block.resnets.0.conv1.weight") > 0;
  const std::int64_t mid_depth = count_indexed(m, "mid_block.attentions.0.transformer_blocks.", ".norm1.weight");
  if (context < 0 && mid_attn) {
    auto k = find(m, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight");
    if (!k || k->size() != 2) return missing(source, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight");
    context = (*k)[1];
  }
  if (context < 0) return missing(source, "down_blocks.*.attentions.0.transformer_blocks.0.attn2.to_k.weight");
  for (std::int64_t u = 0; u < levels; ++u) {
    const std::string up = "up_blocks." + std::to_string(u);
    const bool attn = m.count(up + ".attentions.0.proj_in.weight") > 0;
    up_types.push_back(attn ? "CrossAttnUpBlock2D" : "UpBlock2D");
    std::vector<std::int64_t> d;
    for (std::int64_t j = 0; j <= layers; ++j)
      d.push_back(attn ? count_indexed(m, up + ".attentions." + std::to_string(j) + ".transformer_blocks.", ".norm1.weight")
                       : 1);
    up_depths.push_back(d);
  }
  // The mid depth is read from the last entry (its first layer): a last level without attention
  // carries it.
  if (mid_attn) {
    if (down_types.back() == "DownBlock2D") {
      std::fill(down_depths.back().begin(), down_depths.back().end(), mid_depth);
    } else if (down_depths.back()[0] != mid_depth) {
      return sdk::invalid_argument(source + ": mid block depth " + std::to_string(mid_depth) +
                                   " differs from the last level's " + std::to_string(down_depths.back()[0]) +
                                   " (not expressible as a diffusers config)");
    }
  }
  // Standard models (one depth per level, up = reversed down) keep diffusers' plain list; the
  // others (SSD-1B, Vega) get per-layer lists and the explicit reverse table.
  bool uniform = true;
  for (std::int64_t l = 0; l < levels; ++l) {
    for (auto v : down_depths[l]) uniform = uniform && v == down_depths[l][0];
    for (auto v : up_depths[levels - 1 - l])
      uniform = uniform && (up_types[levels - 1 - l] == "UpBlock2D" || v == down_depths[l][0]);
  }
  nlohmann::json tl = nlohmann::json::array(), reverse = nullptr;
  if (uniform) {
    for (const auto& d : down_depths) tl.push_back(d[0]);
  } else {
    tl = down_depths;
    reverse = up_depths;
  }

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
      {"mid_block_type", mid_attn ? nlohmann::json("UNetMidBlock2DCrossAttn")
                                  : mid_any ? nlohmann::json("UNetMidBlock2D") : nlohmann::json()},
      {"norm_eps", 1e-5}, {"norm_num_groups", 32},
      {"out_channels", (*conv_out)[0]}, {"projection_class_embeddings_input_dim", adm_in},
      {"transformer_layers_per_block", tl}, {"up_block_types", up_types},
      {"use_linear_projection", true}};
  if (!reverse.is_null()) c["reverse_transformer_layers_per_block"] = reverse;
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
  // Depths only matter where a level has attention; compare the parsed per-layer tables (so an int
  // and an equal per-layer list agree) and the mid block.
  auto parsed_a = UNetConfig::from_diffusers_json(config, config_source);
  if (!parsed_a.ok()) return parsed_a.status();
  nlohmann::json structure = inferred;  // an undetermined time-id width is irrelevant to depths
  if (structure.contains("addition_time_embed_dim") && structure["addition_time_embed_dim"].is_null())
    structure.erase("addition_time_embed_dim");
  auto parsed_b = UNetConfig::from_diffusers_json(structure, weights_source);
  if (!parsed_b.ok()) return parsed_b.status();
  const auto& ca = *parsed_a;
  const auto& cb = *parsed_b;
  const auto depths = [](const UNetConfig& c) {
    return nlohmann::json{{"down", c.down_depths}, {"up", c.up_depths},
                          {"mid", c.mid_block_type == "UNetMidBlock2DCrossAttn" ? c.mid_transformer_layers : 0}};
  };
  if (ca.mid_block_type != cb.mid_block_type)
    return differ("mid_block_type", nlohmann::json(ca.mid_block_type), nlohmann::json(cb.mid_block_type));
  if (depths(ca) != depths(cb)) return differ("transformer depth per layer", depths(ca), depths(cb));
  return sdk::Status::Ok();
}

}  // namespace sdxl::models::loader
