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

// One level's depth entry: an int (repeated for every layer) or a list with one value per layer.
bool layer_depths(const nlohmann::json& v, std::int64_t layers, std::vector<std::int64_t>* out) {
  out->clear();
  if (v.is_number_integer()) {
    out->assign(static_cast<std::size_t>(layers), v.get<std::int64_t>());
    return v.get<std::int64_t>() >= 0;
  }
  if (!v.is_array() || static_cast<std::int64_t>(v.size()) != layers) return false;
  for (const auto& d : v) {
    if (!d.is_number_integer() || d.get<std::int64_t>() < 0) return false;
    out->push_back(d.get<std::int64_t>());
  }
  return true;
}

// transformer_layers_per_block / reverse_transformer_layers_per_block: an int, or one entry per
// level, each an int or a per-layer list (diffusers accepts all three forms).
bool depth_table(const nlohmann::json& v, std::size_t levels, std::int64_t layers,
                 std::vector<std::vector<std::int64_t>>* out) {
  out->assign(levels, {});
  if (v.is_number_integer()) {
    for (auto& row : *out)
      if (!layer_depths(v, layers, &row)) return false;
    return true;
  }
  if (!v.is_array() || v.size() != levels) return false;
  for (std::size_t l = 0; l < levels; ++l)
    if (!layer_depths(v[l], layers, &(*out)[l])) return false;
  return true;
}

std::int64_t max_of(const std::vector<std::int64_t>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

}  // namespace

std::int64_t UNetConfig::down_depth(std::int64_t l, std::int64_t j) const {
  if (l < static_cast<std::int64_t>(down_depths.size()) && j < static_cast<std::int64_t>(down_depths[l].size()))
    return down_depths[l][j];
  return l < static_cast<std::int64_t>(transformer_layers.size()) ? transformer_layers[l] : 0;
}

std::int64_t UNetConfig::up_depth(std::int64_t u, std::int64_t j) const {
  if (u < static_cast<std::int64_t>(up_depths.size()) && j < static_cast<std::int64_t>(up_depths[u].size()))
    return up_depths[u][j];
  return u < static_cast<std::int64_t>(up_transformer_layers.size()) ? up_transformer_layers[u] : 0;
}

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

    const auto down_types = j.value("down_block_types", std::vector<std::string>{});
    const auto up_types = j.value("up_block_types", std::vector<std::string>{});
    if (down_types.size() != levels || up_types.size() != levels)
      return bad("down_block_types / up_block_types must have one entry per block_out_channels level");

    // Depth tables. Per-layer lists (SSD-1B, Vega) need the up side spelled out too, as in diffusers.
    const auto tl = j.value("transformer_layers_per_block", nlohmann::json(1));
    if (!depth_table(tl, levels, c.layers_per_block, &c.down_depths))
      return bad("transformer_layers_per_block must be an integer or one entry (integer or per-layer list of " +
                 std::to_string(c.layers_per_block) + ") per level");
    const bool nested = tl.is_array() && std::any_of(tl.begin(), tl.end(), [](const auto& v) { return v.is_array(); });
    const auto rev = j.value("reverse_transformer_layers_per_block", nlohmann::json());
    if (!rev.is_null()) {
      if (!depth_table(rev, levels, c.layers_per_block + 1, &c.up_depths))
        return bad("reverse_transformer_layers_per_block must have one entry (integer or per-layer list of " +
                   std::to_string(c.layers_per_block + 1) + ") per level");
    } else if (nested) {
      return bad("per-layer transformer_layers_per_block needs reverse_transformer_layers_per_block");
    } else {
      for (std::size_t u = 0; u < levels; ++u)
        c.up_depths.push_back(std::vector<std::int64_t>(c.layers_per_block + 1, c.down_depths[levels - 1 - u][0]));
    }
    std::vector<std::int64_t> heads;
    // diffusers: num_attention_heads = num_attention_heads or attention_head_dim (head counts).
    if (!per_level(j, "num_attention_heads", levels, &heads) && !per_level(j, "attention_head_dim", levels, &heads))
      return bad("missing attention_head_dim (head counts per level)");

    for (std::size_t l = 0; l < levels; ++l) {
      const bool attn = down_types[l] == "CrossAttnDownBlock2D";
      if (!attn && down_types[l] != "DownBlock2D") return bad("unsupported down block type " + down_types[l]);
      // transformer_layers / up_transformer_layers say whether a level has attention at all.
      c.transformer_layers.push_back(attn ? std::max<std::int64_t>(1, max_of(c.down_depths[l])) : 0);
      if (!attn) std::fill(c.down_depths[l].begin(), c.down_depths[l].end(), 0);
      const auto& ut = up_types[l];
      const bool up_attn = ut == "CrossAttnUpBlock2D";
      if (!up_attn && ut != "UpBlock2D") return bad("unsupported up block type " + ut);
      c.up_transformer_layers.push_back(up_attn ? std::max<std::int64_t>(1, max_of(c.up_depths[l])) : 0);
      if (!up_attn) std::fill(c.up_depths[l].begin(), c.up_depths[l].end(), 0);
      c.up_heads.push_back(heads[levels - 1 - l]);
    }
    c.heads = heads;
    // diffusers: the mid block's depth is the first layer's of the last entry.
    {
      std::vector<std::int64_t> last;
      layer_depths(tl.is_array() ? tl.back() : tl, tl.is_array() && tl.back().is_array() ? tl.back().size() : 1, &last);
      c.mid_transformer_layers = last.empty() ? 1 : last[0];
    }
    c.mid_heads = heads.back();
    const auto mid = j.value("mid_block_type", nlohmann::json("UNetMidBlock2DCrossAttn"));
    c.mid_block_type = mid.is_null() ? std::string() : mid.is_string() ? mid.get<std::string>() : std::string("?");
    if (c.mid_block_type != "UNetMidBlock2DCrossAttn" && c.mid_block_type != "UNetMidBlock2D" && !mid.is_null())
      return bad("unsupported mid_block_type " + mid.dump());

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
