#include "models/unet/unet_config.h"

#include <algorithm>

namespace sdxl::models {
namespace {

// An int or a per-level list, as diffusers allows for several fields.
bool per_level(const nlohmann::json& j, const char* key, std::size_t levels, std::vector<std::int64_t>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  out->clear();
  if (it->is_number_integer()) {
    out->assign(levels, it->get<std::int64_t>());
    return true;
  }
  if (!it->is_array() || it->size() != levels) return false;
  for (const auto& v : *it) {
    if (!v.is_number_integer()) return false;
    out->push_back(v.get<std::int64_t>());
  }
  return true;
}

}  // namespace

sdk::Result<UNetConfig> UNetConfig::from_diffusers_json(const nlohmann::json& j, const std::string& source) {
  auto bad = [&](const std::string& what) { return sdk::invalid_argument(source + ": " + what); };
  try {
    UNetConfig c;
    if (!j.contains("block_out_channels") || !j["block_out_channels"].is_array() || j["block_out_channels"].empty())
      return bad("missing block_out_channels");
    c.block_out_channels = j["block_out_channels"].get<std::vector<std::int64_t>>();
    const std::size_t levels = c.block_out_channels.size();
    c.in_channels = j.value("in_channels", 4);
    c.out_channels = j.value("out_channels", 4);
    if (j.contains("layers_per_block") && !j["layers_per_block"].is_number_integer())
      return bad("per-level layers_per_block is not supported");
    c.layers_per_block = j.value("layers_per_block", 2);
    if (j.value("use_linear_projection", true) == false)
      return bad("use_linear_projection false (1x1-conv Transformer2D projections) is not supported");
    if (j.value("addition_embed_type", std::string("text_time")) != "text_time")
      return bad("addition_embed_type must be \"text_time\" (SDXL)");
    if (j.contains("reverse_transformer_layers_per_block") && !j["reverse_transformer_layers_per_block"].is_null())
      return bad("reverse_transformer_layers_per_block is not supported");

    const auto down_types = j.value("down_block_types", std::vector<std::string>{});
    const auto up_types = j.value("up_block_types", std::vector<std::string>{});
    if (down_types.size() != levels || up_types.size() != levels)
      return bad("down_block_types / up_block_types must have one entry per block_out_channels level");

    std::vector<std::int64_t> depth;
    if (!per_level(j, "transformer_layers_per_block", levels, &depth)) depth.assign(levels, 1);
    std::vector<std::int64_t> heads;
    // diffusers: num_attention_heads = num_attention_heads or attention_head_dim (head counts).
    if (!per_level(j, "num_attention_heads", levels, &heads) && !per_level(j, "attention_head_dim", levels, &heads))
      return bad("missing attention_head_dim (head counts per level)");

    for (std::size_t l = 0; l < levels; ++l) {
      const bool attn = down_types[l] == "CrossAttnDownBlock2D";
      if (!attn && down_types[l] != "DownBlock2D") return bad("unsupported down block type " + down_types[l]);
      c.transformer_layers.push_back(attn ? depth[l] : 0);
      const auto& ut = up_types[l];
      const bool up_attn = ut == "CrossAttnUpBlock2D";
      if (!up_attn && ut != "UpBlock2D") return bad("unsupported up block type " + ut);
      c.up_transformer_layers.push_back(up_attn ? depth[levels - 1 - l] : 0);
      c.up_heads.push_back(heads[levels - 1 - l]);
    }
    c.heads = heads;
    c.mid_transformer_layers = depth.back();
    c.mid_heads = heads.back();
    const std::string mid_type = j.value("mid_block_type", std::string("UNetMidBlock2DCrossAttn"));
    if (mid_type != "UNetMidBlock2DCrossAttn") return bad("unsupported mid_block_type " + mid_type);

    if (!j.contains("cross_attention_dim") || !j["cross_attention_dim"].is_number_integer())
      return bad("cross_attention_dim must be one integer");
    c.cross_attention_dim = j["cross_attention_dim"].get<std::int64_t>();
    c.addition_time_embed_dim = j.value("addition_time_embed_dim", 256);
    c.projection_class_embeddings_input_dim = j.value("projection_class_embeddings_input_dim", 2816);
    c.norm_num_groups = j.value("norm_num_groups", 32);
    c.norm_eps = j.value("norm_eps", 1e-5);
    c.flip_sin_to_cos = j.value("flip_sin_to_cos", true);
    c.freq_shift = j.value("freq_shift", 0.0);
    for (std::size_t l = 0; l < levels; ++l) {
      const auto ch = c.block_out_channels[l];
      if (ch <= 0 || ch % c.norm_num_groups != 0) return bad("block_out_channels must be multiples of norm_num_groups");
      if (heads[l] <= 0 || ch % heads[l] != 0)
        return bad("level " + std::to_string(l) + ": " + std::to_string(ch) + " channels do not split into " +
                   std::to_string(heads[l]) + " heads");
    }
    return c;
  } catch (const std::exception& e) {
    return bad(std::string("malformed UNet config: ") + e.what());
  }
}

}  // namespace sdxl::models
