#pragma once
// Multi-head scaled dot-product attention on [B, N, C] tensors (no masks: the UNet's and VAE's
// attentions are unmasked; the text encoders' causal attention lives with them).

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace sdxl::models {

/// q: [B, Nq, C], k/v: [B, Nk, C] -> [B, Nq, C]. Heads split C into `heads` slices of C/heads;
/// scale 1/sqrt(C/heads). Uses at::scaled_dot_product_attention on torch >= 2, otherwise an
/// explicit softmax(q k^T) v evaluated in chunks so the score matrix stays bounded in memory.
at::Tensor multi_head_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, std::int64_t heads);

/// The explicit path on any torch version, with a custom chunk bound (tests, memory-tight callers).
/// q: [B, Nq, C], k/v: [B, Nk, C] -> [B, Nq, C]
at::Tensor multi_head_attention_explicit(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                         std::int64_t heads, std::int64_t max_score_elements);

}  // namespace sdxl::models
