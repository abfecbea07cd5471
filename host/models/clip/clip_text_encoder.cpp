#include "models/clip/clip_text_encoder.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/api/include/torch/version.h>

#include <cmath>
#include <limits>

#include "models/common/layers.h"  // add_linear_adapter: runtime LoRA on the projections

namespace sdxl::models::clip {

sdk::Result<ClipTextEncoder> ClipTextEncoder::create(const std::map<std::string, at::Tensor>& weights,
                                                     const nlohmann::json* config, const at::TensorOptions& compute) {
  return sdk::guard("ClipTextEncoder::create", [&]() -> sdk::Result<ClipTextEncoder> {
    auto cfg = ClipTextConfig::infer(weights, config);
    if (!cfg.ok()) return cfg.status();
    ClipTextEncoder e;
    e.config_ = cfg.value();
    e.compute_ = compute;
    // .to() returns the same tensor when dtype and device already match: no copy.
    auto get = [&](const std::string& name) {
      at::Tensor t = weights.at(name).to(compute.device(), compute.dtype());
      e.parameters_[name] = t;
      return t;
    };
    e.token_embedding_ = get(names::kTokenEmbedding);
    e.position_embedding_ = get(names::kPositionEmbedding);
    e.final_ln_w_ = get(names::kFinalLayerNorm + ".weight");
    e.final_ln_b_ = get(names::kFinalLayerNorm + ".bias");
    if (e.config_.projection_dim > 0) e.projection_ = get(names::kTextProjection);
    for (std::int64_t i = 0; i < e.config_.layers; ++i) {
      const std::string p = names::layer(i);
      Layer l;
      l.ln1_w = get(p + "layer_norm1.weight");
      l.ln1_b = get(p + "layer_norm1.bias");
      l.q_w = get(p + "self_attn.q_proj.weight");
      l.q_b = get(p + "self_attn.q_proj.bias");
      l.k_w = get(p + "self_attn.k_proj.weight");
      l.k_b = get(p + "self_attn.k_proj.bias");
      l.v_w = get(p + "self_attn.v_proj.weight");
      l.v_b = get(p + "self_attn.v_proj.bias");
      l.o_w = get(p + "self_attn.out_proj.weight");
      l.o_b = get(p + "self_attn.out_proj.bias");
      l.ln2_w = get(p + "layer_norm2.weight");
      l.ln2_b = get(p + "layer_norm2.bias");
      l.fc1_w = get(p + "mlp.fc1.weight");
      l.fc1_b = get(p + "mlp.fc1.bias");
      l.fc2_w = get(p + "mlp.fc2.weight");
      l.fc2_b = get(p + "mlp.fc2.bias");
      e.layers_.push_back(std::move(l));
    }
    return e;
  });
}

at::Tensor ClipTextEncoder::layer_forward(const Layer& l, const at::Tensor& x, const at::Tensor& causal_mask) const {
  // x: [B, S, W]
  const std::int64_t B = x.size(0), S = x.size(1), H = config_.heads, D = config_.head_dim();
  const std::vector<std::int64_t> W{config_.hidden};
  at::Tensor h = at::layer_norm(x, W, l.ln1_w, l.ln1_b, config_.layer_norm_eps);
  auto heads = [&](const at::Tensor& t) { return t.view({B, S, H, D}).transpose(1, 2); };  // [B, H, S, D]
  at::Tensor q = heads(add_linear_adapter(at::linear(h, l.q_w, l.q_b), h, l.q_w));
  at::Tensor k = heads(add_linear_adapter(at::linear(h, l.k_w, l.k_b), h, l.k_w));
  at::Tensor v = heads(add_linear_adapter(at::linear(h, l.v_w, l.v_b), h, l.v_w));
#if TORCH_VERSION_MAJOR >= 2
  (void)causal_mask;
  at::Tensor a = at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
#else
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)).mul_(1.0 / std::sqrt(static_cast<double>(D)));
  scores.add_(causal_mask);  // [S, S] broadcast over [B, H]
  at::Tensor a = at::matmul(at::softmax(scores, -1), v);  // [B, H, S, D]
#endif
  a = a.transpose(1, 2).reshape({B, S, config_.hidden});
  at::Tensor y = x + add_linear_adapter(at::linear(a, l.o_w, l.o_b), a, l.o_w);

  h = at::layer_norm(y, W, l.ln2_w, l.ln2_b, config_.layer_norm_eps);
  h = add_linear_adapter(at::linear(h, l.fc1_w, l.fc1_b), h, l.fc1_w);  // [B, S, I]
  h = config_.activation == ClipActivation::kQuickGelu ? h * at::sigmoid(h * 1.702) : at::gelu(h);
  return y + add_linear_adapter(at::linear(h, l.fc2_w, l.fc2_b), h, l.fc2_w);
}

sdk::Result<ClipTextOutput> ClipTextEncoder::forward(const at::Tensor& ids_in, const ClipForwardOptions& opts) const {
  return sdk::guard("ClipTextEncoder::forward", [&]() -> sdk::Result<ClipTextOutput> {
    c10::InferenceMode no_autograd;
    if (!ids_in.defined() || ids_in.dim() != 2 || at::isFloatingType(ids_in.scalar_type()) ||
        ids_in.scalar_type() == at::kBool)
      return sdk::invalid_argument("text encoder: ids must be an integer tensor [batch, tokens]");
    const std::int64_t B = ids_in.size(0), S = ids_in.size(1);
    if (B == 0 || S == 0 || S > config_.max_positions)
      return sdk::invalid_argument("text encoder: ids have shape [" + std::to_string(B) + ", " + std::to_string(S) +
                                   "]; need at least one row and 1.." + std::to_string(config_.max_positions) +
                                   " tokens");
    at::Tensor ids = ids_in.to(at::kLong);
    const std::int64_t lo = ids.min().item<std::int64_t>(), hi = ids.max().item<std::int64_t>();
    if (lo < 0 || hi >= config_.vocab_size)
      return sdk::invalid_argument("text encoder: token id " + std::to_string(lo < 0 ? lo : hi) +
                                   " is outside the vocabulary [0, " + std::to_string(config_.vocab_size) + ")");
    ids = ids.to(compute_.device());

    at::Tensor x = at::embedding(token_embedding_, ids) + position_embedding_.narrow(0, 0, S);  // [B, S, W]
    at::Tensor causal_mask;
#if TORCH_VERSION_MAJOR < 2
    // Position i attends to 0..i: -inf strictly above the diagonal.
    causal_mask = at::full({S, S}, -std::numeric_limits<double>::infinity(), compute_).triu_(1);
#endif
    ClipTextOutput out;
    if (opts.keep_hidden_states) out.hidden_states.push_back(x);
    const std::int64_t L = config_.layers;
    const std::int64_t run = opts.run_last_layer ? L : L - 1;
    for (std::int64_t i = 0; i < run; ++i) {
      if (i == L - 1) out.penultimate = x;
      x = layer_forward(layers_[i], x, causal_mask);
      if (opts.keep_hidden_states) out.hidden_states.push_back(x);
    }
    if (!opts.run_last_layer) {
      out.penultimate = x;
      return out;
    }
    out.last_hidden_state = at::layer_norm(x, {config_.hidden}, final_ln_w_, final_ln_b_, config_.layer_norm_eps);
    if (config_.projection_dim > 0) {
      // Pool at the first end-of-text token (= argmax of the ids for CLIP's vocabulary, where the
      // end token has the largest id); rows without one fall back to argmax like transformers.
      at::Tensor is_eos = ids.eq(config_.eos_token_id);
      at::Tensor first_eos = is_eos.to(at::kInt).argmax(-1);
      at::Tensor pos = at::where(is_eos.any(-1), first_eos, ids.argmax(-1));  // [B]
      at::Tensor rows = at::arange(B, ids.options());
      at::Tensor h_eos = out.last_hidden_state.index({rows, pos});  // [B, W]
      out.pooled = at::linear(h_eos, projection_);                  // [B, P]
    }
    return out;
  });
}

}  // namespace sdxl::models::clip
