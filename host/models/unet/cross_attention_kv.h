#pragma once
// The keys and values of every cross-attention (attn2) of a UNet for one text context.
//
// Each cross-attention projects the text context (2 × 77 tokens with CFG) through its own to_k and
// to_v. The context is the same at every step of a job, so those 140 small products (SDXL: 70
// blocks) — 0.68 GB of weights read per step on a GPU for 0.1 TFLOP — need computing once per
// job, not once per step (docs/performance.md). UNet2DConditionModel::cross_attention_kv() builds
// this for a context; a forward given it (UNetInputs::context_kv) takes each block's pair from
// here. Results are identical: the same products of the same weights, done earlier.
//
// Valid while the context tensor is unchanged (checked: same tensor, same version counter) and the
// weights keep their values (a job's lifetime: LoRAs are merged or attached between jobs). Holds
// B × M × C per block twice (SDXL batch 2 in fp16: 51 MB).

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::models {

struct CrossAttention;       // models/unet/transformer2d.h
struct Transformer2DModel;  // models/unet/transformer2d.h

class CrossAttentionKV {
 public:
  /// `context`: the encoder_hidden_states the pairs are computed from, as the caller holds them;
  /// `model`: the instance number of the model (UNet or ControlNet) whose layers they belong to.
  CrossAttentionKV(at::Tensor context, std::uint64_t model);

  /// A number no other loaded model has: each UNet and ControlNet takes one at load and checks
  /// that the pairs it is given carry it.
  static std::uint64_t new_model_id();

  /// The pairs of every cross-attention in `transformers` for `encoder_hidden_states` ([B, M,
  /// context_dim]), computed in `device` / `dtype` as the model's forward converts the context,
  /// named as model `model`'s (UNet2DConditionModel and ControlNetModel::cross_attention_kv).
  /// `who` names the caller in errors.
  static sdk::Result<std::shared_ptr<const CrossAttentionKV>> compute(
      const std::vector<const Transformer2DModel*>& transformers, const at::Tensor& encoder_hidden_states,
      std::int64_t context_dim, std::uint64_t model, c10::Device device, c10::ScalarType dtype, const std::string& who);

  void add(const CrossAttention* layer, at::Tensor keys, at::Tensor values);
  /// The pair computed for `layer` (keys, values: [B, M, dim]), or null.
  const std::pair<at::Tensor, at::Tensor>* find(const CrossAttention* layer) const;

  /// Whether these pairs belong to `context`: the very tensor they were computed from, not
  /// modified in place since.
  bool computed_from(const at::Tensor& context) const;
  /// What a forward checks: made by model `model` from `context`, unmodified since.
  bool belongs_to(std::uint64_t model, const at::Tensor& context) const {
    return model_ == model && computed_from(context);
  }
  /// For a holder that overwrites the context tensor and the pairs together (a CUDA graph's input
  /// buffers, gpu/unet_graph_inputs.h): the context as it is now is what the pairs belong to.
  void accept_context_version();

  /// Every pair by layer (tests and diagnostics).
  const std::unordered_map<const CrossAttention*, std::pair<at::Tensor, at::Tensor>>& pairs() const { return pairs_; }
  std::uint64_t model() const { return model_; }
  std::size_t layers() const { return pairs_.size(); }
  std::uint64_t bytes() const;

 private:
  at::Tensor context_;
  std::int64_t context_version_ = 0;
  std::uint64_t model_ = 0;
  std::unordered_map<const CrossAttention*, std::pair<at::Tensor, at::Tensor>> pairs_;
};

}  // namespace sdxl::models
