#include "models/unet/transformer2d.h"

#include <ATen/ATen.h>

#include "gpu/geglu.h"
#include "gpu/residual_layer_norm.h"
#include "models/common/attention.h"
#include "models/common/cpu_matmul.h"
#include "models/common/stacked_weights.h"
#include "models/unet/cross_attention_kv.h"

namespace sdxl::models {

void CrossAttention::load(WeightReader& r, const std::string& prefix, std::int64_t dim, std::int64_t context_dim,
                          std::int64_t heads_) {
  to_q.load(r, prefix + ".to_q", dim, dim, /*with_bias=*/false);
  to_k.load(r, prefix + ".to_k", context_dim, dim, false);
  to_v.load(r, prefix + ".to_v", context_dim, dim, false);
  to_out.load(r, prefix + ".to_out.0", dim, dim);
  heads = heads_;
}

at::Tensor CrossAttention::operator()(const at::Tensor& x, const at::Tensor& context) const {
  return to_out(multi_head_attention(to_q(x), to_k(context), to_v(context), heads));
}

at::Tensor CrossAttention::attend(const at::Tensor& x, const AttentionContext& context) const {
  const auto* kv = context.kv ? context.kv->find(this) : nullptr;
  if (!kv) return (*this)(x, context.states);
  return to_out(multi_head_attention(to_q(x), kv->first, kv->second, heads));
}

namespace {

bool has_bias(const Linear& l) { return l.bias.defined(); }

// (y + residual, norm of it): one CUDA pass where gpu/residual_layer_norm.h applies, else libtorch's
// add and LayerNorm (the same operations the block always did).
gpu::ResidualNorm add_then_norm(const at::Tensor& y, const at::Tensor& residual, const LayerNorm& norm) {
  gpu::ResidualNorm fused = gpu::residual_layer_norm(y, residual, norm.weight, norm.bias, norm.eps);
  if (fused.sum.defined()) return fused;
  at::Tensor sum = y + residual;
  at::Tensor normed = norm(sum);
  return {std::move(sum), std::move(normed)};
}

}  // namespace

at::Tensor CrossAttention::self_attend(const at::Tensor& x) const {
  const at::Tensor qkv_weight = stacked_rows({to_q.weight, to_k.weight, to_v.weight});
  if (!qkv_weight.defined() || has_bias(to_q) || has_bias(to_k) || has_bias(to_v)) return (*this)(x, x);
  // [B, N, 3C] -> three [B, N, C] column views: the attention reads them in place (torch 2.x) or
  // splits them into heads with one copy each (the explicit path), as separate products would.
  const auto qkv = models::linear(x, qkv_weight).chunk(3, -1);
  // Runtime LoRAs hang on each layer's own weight tensor, which stacking keeps.
  return to_out(multi_head_attention(add_linear_adapter(qkv[0], x, to_q.weight),
                                     add_linear_adapter(qkv[1], x, to_k.weight),
                                     add_linear_adapter(qkv[2], x, to_v.weight), heads));
}

bool CrossAttention::stack_projections() {
  if (has_bias(to_q) || has_bias(to_k) || has_bias(to_v)) return false;
  return projections_stacked() || stack_rows_in_place({to_q.weight, to_k.weight, to_v.weight});
}

bool CrossAttention::projections_stacked() const {
  return stacked_rows({to_q.weight, to_k.weight, to_v.weight}).defined();
}

void BasicTransformerBlock::load(WeightReader& r, const std::string& prefix, std::int64_t dim,
                                 std::int64_t context_dim, std::int64_t heads) {
  norm1.load(r, prefix + ".norm1", dim);
  attn1.load(r, prefix + ".attn1", dim, dim, heads);
  norm2.load(r, prefix + ".norm2", dim);
  attn2.load(r, prefix + ".attn2", dim, context_dim, heads);
  norm3.load(r, prefix + ".norm3", dim);
  ff_proj.load(r, prefix + ".ff.net.0.proj", dim, 8 * dim);
  ff_out.load(r, prefix + ".ff.net.2", 4 * dim, dim);
}

std::pair<at::Tensor, at::Tensor> BasicTransformerBlock::run(const at::Tensor& x, const at::Tensor& n1,
                                                             const AttentionContext& context) const {
  // Each residual add and the norm after it: one pass on CUDA (the sum is normed from registers).
  // Reassigned rather than bound anew, so that each pair is freed once the next exists.
  gpu::ResidualNorm h = add_then_norm(attn1.self_attend(n1), x, norm2);
  h = add_then_norm(attn2.attend(h.normed, context), h.sum, norm3);
  // GEGLU: first half is the value, second half the gate (exact erf gelu); one fused pass on CUDA.
  const at::Tensor projected = ff_proj(h.normed);
  h.normed.reset();
  at::Tensor act = gpu::geglu(projected);
  if (!act.defined()) act = gpu::geglu_reference(projected);
  return {ff_out(act), std::move(h.sum)};
}

void Transformer2DModel::load(WeightReader& r, const std::string& prefix, std::int64_t channels, std::int64_t depth,
                              std::int64_t context_dim, std::int64_t heads, std::int64_t groups, double eps) {
  norm.load(r, prefix + ".norm", channels, groups, eps);
  proj_in.load(r, prefix + ".proj_in", channels, channels);
  transformer_blocks.resize(depth);
  for (std::int64_t k = 0; k < depth; ++k)
    transformer_blocks[k].load(r, prefix + ".transformer_blocks." + std::to_string(k), channels, context_dim, heads);
  proj_out.load(r, prefix + ".proj_out", channels, channels);
}

void Transformer2DModel::add_context_kv(const at::Tensor& context, CrossAttentionKV& out) const {
  for (const auto& block : transformer_blocks)
    out.add(&block.attn2, block.attn2.to_k(context), block.attn2.to_v(context));
}

std::size_t Transformer2DModel::stack_self_attention_projections() {
  for (auto& block : transformer_blocks) block.attn1.stack_projections();
  return stacked_self_attentions();
}

std::size_t Transformer2DModel::stacked_self_attentions() const {
  std::size_t n = 0;
  for (const auto& block : transformer_blocks) n += block.attn1.projections_stacked() ? 1 : 0;
  return n;
}

at::Tensor Transformer2DModel::operator()(const at::Tensor& x, const AttentionContext& context) const {
  const auto b = x.size(0), c = x.size(1), hgt = x.size(2), wid = x.size(3);
  at::Tensor h = norm(x).permute({0, 2, 3, 1}).reshape({b, hgt * wid, c});  // [B, HW, C]
  h = proj_in(h);
  // Each block's last residual add is done here, with the next block's first norm where there
  // is one (one pass on CUDA).
  at::Tensor normed = transformer_blocks.empty() ? at::Tensor() : transformer_blocks.front().norm1(h);
  for (std::size_t k = 0; k < transformer_blocks.size(); ++k) {
    auto [y, residual] = transformer_blocks[k].run(h, normed, context);
    if (k + 1 == transformer_blocks.size()) {
      h = y + residual;
      break;
    }
    gpu::ResidualNorm next = add_then_norm(y, residual, transformer_blocks[k + 1].norm1);
    h = std::move(next.sum);
    normed = std::move(next.normed);
  }
  h = proj_out(h);
  return h.reshape({b, hgt, wid, c}).permute({0, 3, 1, 2}) + x;
}

}  // namespace sdxl::models
