#pragma once
// Transformer2DModel with linear projections (SDXL) and its BasicTransformerBlock, diffusers names:
//   norm (GroupNorm eps 1e-6) -> proj_in -> transformer_blocks.{k} -> proj_out -> + input
//   block: x += attn1(norm1(x)); x += attn2(norm2(x), context); x += ff(norm3(x))
//   ff: net.0.proj Linear(C, 8C) -> (a, gate) halves -> a * gelu(gate) -> net.2 Linear(4C, C)

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/common/layers.h"

namespace sdxl::models {

class CrossAttentionKV;  // models/unet/cross_attention_kv.h

/// What the cross-attentions attend to: the text context, and optionally every block's keys and
/// values already computed from it (once per job). A bare context tensor converts to one.
struct AttentionContext {
  AttentionContext(at::Tensor states_, const CrossAttentionKV* kv_ = nullptr) : states(std::move(states_)), kv(kv_) {}
  at::Tensor states;                     ///< [B, M, context_dim]
  const CrossAttentionKV* kv = nullptr;  ///< null: each block projects `states` itself
};

/// diffusers Attention without biases on q/k/v (UNet): to_q, to_k, to_v, to_out.0.
struct CrossAttention {
  Linear to_q, to_k, to_v, to_out;
  std::int64_t heads = 1;
  /// context_dim == dim for self-attention.
  void load(WeightReader& r, const std::string& prefix, std::int64_t dim, std::int64_t context_dim, std::int64_t heads);
  /// x: [B, N, dim], context: [B, M, context_dim] (or x itself) -> [B, N, dim]
  at::Tensor operator()(const at::Tensor& x, const at::Tensor& context) const;
  /// The same, with this layer's keys and values taken from context.kv when it holds them.
  at::Tensor attend(const at::Tensor& x, const AttentionContext& context) const;
  /// Self-attention (context = x): q, k and v from one [3C, C] product while their weights are
  /// stacked (stack_projections()), else (*this)(x, x). The same values either way, up to the
  /// rounding of a differently blocked product.
  at::Tensor self_attend(const at::Tensor& x) const;
  /// Stacks to_q, to_k and to_v's weights in one storage (models/common/stacked_weights.h), for
  /// self-attention: all three read x. False when they cannot be (biases, unlike weights).
  bool stack_projections();
  /// True while the three weights lie stacked, so self_attend() computes one product.
  bool projections_stacked() const;
};

struct BasicTransformerBlock {
  LayerNorm norm1, norm2, norm3;
  CrossAttention attn1, attn2;
  Linear ff_proj;  // ff.net.0.proj: [8C, C]
  Linear ff_out;   // ff.net.2:      [C, 4C]
  void load(WeightReader& r, const std::string& prefix, std::int64_t dim, std::int64_t context_dim, std::int64_t heads);
  /// The block on x [B, N, C] given its first norm n1 = norm1(x), up to its last residual add:
  /// {feed-forward output, residual}, whose sum is the block's output. Open at both ends so that
  /// the caller can compute each add and the norm after it in one pass (gpu/residual_layer_norm.h),
  /// across blocks too.
  std::pair<at::Tensor, at::Tensor> run(const at::Tensor& x, const at::Tensor& n1, const AttentionContext& context) const;
};

struct Transformer2DModel {
  GroupNorm norm;
  Linear proj_in, proj_out;
  std::vector<BasicTransformerBlock> transformer_blocks;
  void load(WeightReader& r, const std::string& prefix, std::int64_t channels, std::int64_t depth,
            std::int64_t context_dim, std::int64_t heads, std::int64_t groups, double eps);
  /// x: [B, C, H, W], context: [B, M, context_dim] -> [B, C, H, W]
  at::Tensor operator()(const at::Tensor& x, const AttentionContext& context) const;
  /// Adds every block's cross-attention keys and values for `context` (compute dtype/device).
  void add_context_kv(const at::Tensor& context, CrossAttentionKV& out) const;
  /// Stacks every block's self-attention q/k/v weights (CrossAttention::stack_projections);
  /// returns how many blocks' are stacked afterwards.
  std::size_t stack_self_attention_projections();
  /// How many blocks' self-attentions compute q, k and v in one product now.
  std::size_t stacked_self_attentions() const;
};

}  // namespace sdxl::models
