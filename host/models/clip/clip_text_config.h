#pragma once
// Hyper-parameters of a CLIP text transformer (SDXL's CLIP-L encoder and OpenCLIP bigG encoder),
// inferred from diffusers/transformers-named weights plus, when present, config.json.
//
// Widths, depth, MLP width, vocabulary, context and projection come from tensor shapes. The head
// count cannot be read from shapes: config.json's num_attention_heads, else SDXL's convention of
// 64-channel heads. Activation: config's hidden_act, else quick_gelu for an encoder without
// text_projection (CLIP-L) and exact gelu for one with it (bigG). config.json's bos/eos/pad ids
// are SDXL placeholders and deliberately ignored.

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>

#include "sdxl/sdk/status.h"

namespace sdxl::models::clip {

enum class ClipActivation { kQuickGelu, kGelu };

struct ClipTextConfig {
  std::int64_t vocab_size = 0;
  std::int64_t max_positions = 0;  ///< 77
  std::int64_t hidden = 0;         ///< model width W
  std::int64_t layers = 0;
  std::int64_t heads = 0;
  std::int64_t intermediate = 0;   ///< MLP width
  std::int64_t projection_dim = 0;  ///< 0: no text_projection (pooled output unavailable)
  ClipActivation activation = ClipActivation::kQuickGelu;
  double layer_norm_eps = 1e-5;
  std::int64_t eos_token_id = 49407;  ///< pooling position = first occurrence in the ids

  std::int64_t head_dim() const { return heads > 0 ? hidden / heads : 0; }

  /// Infers and validates against the weights; `config` may be null. Errors name the tensor or
  /// config key that is missing or inconsistent.
  static sdk::Result<ClipTextConfig> infer(const std::map<std::string, at::Tensor>& weights,
                                           const nlohmann::json* config);
};

/// Weight names (transformers CLIPTextModel / CLIPTextModelWithProjection).
namespace names {
inline const std::string kTokenEmbedding = "text_model.embeddings.token_embedding.weight";
inline const std::string kPositionEmbedding = "text_model.embeddings.position_embedding.weight";
inline const std::string kFinalLayerNorm = "text_model.final_layer_norm";
inline const std::string kTextProjection = "text_projection.weight";
inline std::string layer(std::int64_t i) { return "text_model.encoder.layers." + std::to_string(i) + "."; }
}  // namespace names

}  // namespace sdxl::models::clip
