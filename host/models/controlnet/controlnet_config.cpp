#include "models/controlnet/controlnet_config.h"

#include <algorithm>

namespace sdxl::models {
namespace {

// SDXL conventions for what no shape stores (as the UNet loader's config inference).
constexpr std::int64_t kHeadSize = 64;
constexpr std::int64_t kTimeIdWidth = 256;
constexpr std::int64_t kPooledWidth = 1280;

using ShapeMap = std::map<std::string, std::vector<std::int64_t>>;

const std::vector<std::int64_t>* find(const ShapeMap& m, const std::string& k, std::size_t rank) {
  auto it = m.find(k);
  return it == m.end() || it->second.size() != rank ? nullptr : &it->second;
}

std::int64_t count_indexed(const ShapeMap& m, const std::string& prefix, const std::string& suffix) {
  std::int64_t n = 0;
  while (m.count(prefix + std::to_string(n) + suffix)) ++n;
  return n;
}

sdk::Status missing(const std::string& source, const std::string& key) {
  return sdk::invalid_argument(source + ": cannot infer the ControlNet architecture, tensor '" + key +
                               "' is missing or malformed");
}

}  // namespace

sdk::Result<ControlNetConfig> ControlNetConfig::from_diffusers_json(const nlohmann::json& j, const std::string& source) {
  auto bad = [&](const std::string& what) { return sdk::invalid_argument(source + ": " + what); };
  try {
    if (!j.is_object()) return bad("not a JSON object");
    const std::string cls = j.value("_class_name", std::string("ControlNetModel"));
    if (cls != "ControlNetModel") return bad("not a ControlNet config (_class_name is " + cls + ")");
    if (j.value("global_pool_conditions", false)) return bad("global_pool_conditions is not supported");
    if (j.value("controlnet_conditioning_channel_order", std::string("rgb")) != "rgb")
      return bad("controlnet_conditioning_channel_order other than \"rgb\" is not supported");
    if (j.contains("addition_time_embed_dim") && j["addition_time_embed_dim"].is_null())
      return bad("the add_embedding input width cannot be split into pooled text embedding + time ids; "
                 "give a config folder (--model-config) with the ControlNet's config.json");
    // The UNet parser wants the decoder half too: mirror the encoder, as a UNet with it has.
    nlohmann::json u = j;
    const auto down = j.value("down_block_types", std::vector<std::string>{});
    std::vector<std::string> up;
    for (auto it = down.rbegin(); it != down.rend(); ++it)
      up.push_back(*it == "CrossAttnDownBlock2D" ? "CrossAttnUpBlock2D" : *it == "DownBlock2D" ? "UpBlock2D" : *it);
    u["up_block_types"] = up;
    u["out_channels"] = j.value("in_channels", 4);
    auto unet = UNetConfig::from_diffusers_json(u, source);
    if (!unet.ok()) return unet.status();

    ControlNetConfig c;
    c.unet = std::move(unet.value());
    c.conditioning_channels = j.value("conditioning_channels", 3);
    c.cond_embedding_channels =
        j.value("conditioning_embedding_out_channels", std::vector<std::int64_t>{16, 32, 96, 256});
    if (c.cond_embedding_channels.empty() || c.conditioning_channels <= 0)
      return bad("conditioning_embedding_out_channels / conditioning_channels must not be empty");
    return c;
  } catch (const std::exception& e) {
    return bad(std::string("malformed ControlNet config: ") + e.what());
  }
}

sdk::Result<nlohmann::json> ControlNetConfig::infer_json(const ShapeMap& m, const std::string& source) {
  auto conv_in = find(m, "conv_in.weight", 4);
  auto adm = find(m, "add_embedding.linear_1.weight", 2);
  auto hint_in = find(m, "controlnet_cond_embedding.conv_in.weight", 4);
  if (!conv_in) return missing(source, "conv_in.weight");
  if (!adm) return missing(source, "add_embedding.linear_1.weight");
  if (!hint_in) return missing(source, "controlnet_cond_embedding.conv_in.weight");

  const std::int64_t levels = count_indexed(m, "down_blocks.", ".resnets.0.conv2.weight");
  if (levels == 0) return missing(source, "down_blocks.0.resnets.0.conv2.weight");
  const std::int64_t layers = count_indexed(m, "down_blocks.0.resnets.", ".conv1.weight");
  std::vector<std::int64_t> channels, depth, heads;
  std::vector<std::string> down_types;
  std::int64_t context = -1;
  for (std::int64_t l = 0; l < levels; ++l) {
    const std::string lp = "down_blocks." + std::to_string(l);
    channels.push_back(m.at(lp + ".resnets.0.conv2.weight").at(0));
    const auto d = count_indexed(m, lp + ".attentions.0.transformer_blocks.", ".norm1.weight");
    depth.push_back(d);
    down_types.push_back(d > 0 ? "CrossAttnDownBlock2D" : "DownBlock2D");
    heads.push_back(std::max<std::int64_t>(1, channels.back() / kHeadSize));
    if (d > 0 && context < 0) {
      auto k = find(m, lp + ".attentions.0.transformer_blocks.0.attn2.to_k.weight", 2);
      if (!k) return missing(source, lp + ".attentions.0.transformer_blocks.0.attn2.to_k.weight");
      context = (*k)[1];
    }
  }
  const std::int64_t mid_depth = count_indexed(m, "mid_block.attentions.0.transformer_blocks.", ".norm1.weight");
  if (mid_depth == 0) return missing(source, "mid_block.attentions.0.transformer_blocks.0.norm1.weight");
  if (context < 0) {
    auto k = find(m, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight", 2);
    if (!k) return missing(source, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight");
    context = (*k)[1];
  }
  // diffusers reads the mid depth from the last entry of transformer_layers_per_block.
  std::vector<std::int64_t> tl;
  for (std::int64_t l = 0; l < levels; ++l) tl.push_back(depth[l] > 0 ? depth[l] : (l == levels - 1 ? mid_depth : 1));
  if (depth.back() > 0 && depth.back() != mid_depth)
    return sdk::invalid_argument(source + ": mid block depth " + std::to_string(mid_depth) +
                                 " differs from the last level's " + std::to_string(depth.back()));

  // Conditioning embedding: conv_in [c0, cond_ch, 3, 3]; blocks.{2i+1} [c_{i+1}, c_i, 3, 3].
  std::vector<std::int64_t> cond = {(*hint_in)[0]};
  const std::int64_t blocks = count_indexed(m, "controlnet_cond_embedding.blocks.", ".weight");
  for (std::int64_t b = 1; b < blocks; b += 2) {
    auto w = find(m, "controlnet_cond_embedding.blocks." + std::to_string(b) + ".weight", 4);
    if (!w) return missing(source, "controlnet_cond_embedding.blocks." + std::to_string(b) + ".weight");
    cond.push_back((*w)[0]);
  }

  // add_embedding input = pooled (1280 in SDXL) + n_ids * 256; anything else needs a config.
  const std::int64_t adm_in = (*adm)[1];
  nlohmann::json id_width = nullptr;
  if (adm_in > kPooledWidth && (adm_in - kPooledWidth) % kTimeIdWidth == 0) id_width = kTimeIdWidth;

  return nlohmann::json{{"_class_name", "ControlNetModel"},
                        {"_inferred_from_weights", true},
                        {"act_fn", "silu"},
                        {"addition_embed_type", "text_time"},
                        {"addition_time_embed_dim", id_width},
                        {"attention_head_dim", heads},
                        {"block_out_channels", channels},
                        {"conditioning_channels", (*hint_in)[1]},
                        {"conditioning_embedding_out_channels", cond},
                        {"controlnet_conditioning_channel_order", "rgb"},
                        {"cross_attention_dim", context},
                        {"down_block_types", down_types},
                        {"flip_sin_to_cos", true},
                        {"freq_shift", 0},
                        {"global_pool_conditions", false},
                        {"in_channels", (*conv_in)[1]},
                        {"layers_per_block", layers},
                        {"mid_block_type", "UNetMidBlock2DCrossAttn"},
                        {"norm_eps", 1e-5},
                        {"norm_num_groups", 32},
                        {"projection_class_embeddings_input_dim", adm_in},
                        {"transformer_layers_per_block", tl},
                        {"use_linear_projection", true}};
}

}  // namespace sdxl::models
