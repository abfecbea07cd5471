#pragma once
// CLIP text transformer, written functionally with ATen: SDXL's text_encoder (CLIP-L, quick_gelu)
// and text_encoder_2 (OpenCLIP bigG, gelu, text_projection).
//
//   x = tok_emb[ids] + pos_emb[:S]                                   // [B, S, W]
//   per layer: x += out_proj(causal_mha(LN1(x)));  x += fc2(act(fc1(LN2(x))))
//   hidden_states[i] = x after layer i (0 = embeddings); no padding mask (pads are ordinary tokens)
//   last_hidden_state = final_layer_norm(x)
//   pooled = last_hidden_state[b, first eos position] @ text_projection.weight^T
//
// SDXL uses hidden_states[-2] ("penultimate", no final LayerNorm) of both encoders, and the
// pooled output of encoder 2.
//
// Weights are diffusers/transformers names (see clip_text_config.h); a single-file checkpoint's
// conditioner.embedders.* keys must be renamed to those by the loader first.
// Thread rules: forward() is const and thread-safe.

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "models/clip/clip_text_config.h"
#include "sdxl/sdk/status.h"

namespace sdxl::models::clip {

struct ClipForwardOptions {
  bool run_last_layer = true;          ///< false: stop after layer L-1 (penultimate only; SDXL's TE1)
  bool keep_hidden_states = false;     ///< fill ClipTextOutput::hidden_states
};

struct ClipTextOutput {
  at::Tensor penultimate;        ///< [B, S, W] hidden_states[-2]
  at::Tensor last_hidden_state;  ///< [B, S, W] (undefined when run_last_layer = false)
  at::Tensor pooled;             ///< [B, P] (undefined without projection or last layer)
  std::vector<at::Tensor> hidden_states;  ///< [B, S, W] each when requested: L+1 (L without the last layer)
};

class ClipTextEncoder {
 public:
  /// Converts every weight once to `compute` (dtype + device); tensors already matching are
  /// shared, not copied. `config` (parsed config.json) may be null.
  static sdk::Result<ClipTextEncoder> create(const std::map<std::string, at::Tensor>& weights,
                                             const nlohmann::json* config, const at::TensorOptions& compute);

  /// ids: [B, S] integer, S <= max_positions, values < vocab_size. Outputs are in the compute
  /// dtype on the compute device.
  sdk::Result<ClipTextOutput> forward(const at::Tensor& ids, const ClipForwardOptions& opts = {}) const;

  const ClipTextConfig& config() const { return config_; }
  /// The weights the encoder computes with, by transformers name (shared storage: in-place edits
  /// reach the model — how LoRAs are merged).
  const std::map<std::string, at::Tensor>& parameters() const { return parameters_; }

 private:
  struct Layer {
    at::Tensor ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;
    at::Tensor ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
  };
  at::Tensor layer_forward(const Layer& l, const at::Tensor& x, const at::Tensor& causal_mask) const;

  ClipTextConfig config_;
  at::TensorOptions compute_;
  std::map<std::string, at::Tensor> parameters_;
  at::Tensor token_embedding_, position_embedding_, final_ln_w_, final_ln_b_, projection_;
  std::vector<Layer> layers_;
};

}  // namespace sdxl::models::clip
