#pragma once
// The structural hyper-parameters of an SDXL-family UNet2DConditionModel, read from a diffusers
// config.json (see docs/models.md for which fields are used and how the loader infers them).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::models {

struct UNetConfig {
  std::int64_t in_channels = 4;   // 4, or 9 for inpainting UNets
  std::int64_t out_channels = 4;
  std::vector<std::int64_t> block_out_channels;  // per level, e.g. 320, 640, 1280
  std::int64_t layers_per_block = 2;             // resnets per down level (up levels: +1)
  /// Per down level: Transformer2D depth, 0 = a level without attention (DownBlock2D).
  std::vector<std::int64_t> transformer_layers;
  /// Per up level (deepest first): depth, 0 = UpBlock2D. Diffusers reverses the down list.
  std::vector<std::int64_t> up_transformer_layers;
  std::int64_t mid_transformer_layers = 1;
  /// Per down level, per resnet layer (layers_per_block entries): the Transformer2D depth. Standard
  /// SDXL repeats one value per level; distilled variants (SSD-1B, Vega) vary it inside a level.
  std::vector<std::vector<std::int64_t>> down_depths;
  /// Per up level (deepest first), per resnet layer (layers_per_block + 1 entries).
  std::vector<std::vector<std::int64_t>> up_depths;
  /// "UNetMidBlock2DCrossAttn" (resnet, attention, resnet — SDXL), "UNetMidBlock2D" (a single
  /// resnet, as SSD-1B) or "" (no mid block, diffusers' mid_block_type null).
  std::string mid_block_type = "UNetMidBlock2DCrossAttn";
  /// Heads per down level (diffusers `attention_head_dim` = head COUNTS); up levels use it reversed.
  std::vector<std::int64_t> heads;
  std::vector<std::int64_t> up_heads;
  std::int64_t mid_heads = 1;
  std::int64_t cross_attention_dim = 2048;
  std::int64_t addition_time_embed_dim = 256;               // sinusoid width per time id
  std::int64_t projection_class_embeddings_input_dim = 2816;  // pooled + n_ids * addition_time_embed_dim
  std::int64_t norm_num_groups = 32;
  double norm_eps = 1e-5;             // resnets and conv_norm_out
  double transformer_norm_eps = 1e-6;  // Transformer2D GroupNorm (fixed in diffusers)
  bool flip_sin_to_cos = true;
  double freq_shift = 0.0;

  std::int64_t levels() const { return static_cast<std::int64_t>(block_out_channels.size()); }
  std::int64_t time_embed_dim() const { return 4 * block_out_channels.at(0); }
  /// Depth of down level l's j-th attention / up level u's j-th attention (falls back to the
  /// per-level value for configs built by hand without the per-layer tables; 0, no attention,
  /// for a level neither lists).
  std::int64_t down_depth(std::int64_t l, std::int64_t j) const;
  std::int64_t up_depth(std::int64_t u, std::int64_t j) const;

  /// Parses a diffusers UNet2DConditionModel config; `source` names it in messages. Rejects
  /// variants this implementation does not cover (conv projections, other addition embeddings).
  static sdk::Result<UNetConfig> from_diffusers_json(const nlohmann::json& j, const std::string& source);
};

}  // namespace sdxl::models
