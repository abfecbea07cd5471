#pragma once
// SDXL UNet2DConditionModel (epsilon prediction), functional ATen, diffusers tensor names.
//
//   emb  = time_embedding(sinusoid(t)) + add_embedding(cat(text_embeds, sinusoid(time_ids)))
//   h    = conv_in(sample); skips = [h]
//   h    = down_blocks(h) (+ ControlNet residuals on every skip), mid_block(h) (+ mid residual)
//   h    = up_blocks(h, skips popped last-first)
//   eps  = conv_out(SiLU(conv_norm_out(h)))
//
// Thread rules: immutable after load() (except the block observer, swapped under a lock); forward()
// may run concurrently on different inputs.
// Ownership: holds its weights (views of the mapped file when dtype/device already match).

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "models/common/layers.h"
#include "models/common/timestep_embedding.h"
#include "models/common/weight_reader.h"
#include "models/unet/cross_attention_kv.h"
#include "models/unet/unet_blocks.h"
#include "models/unet/unet_config.h"
#include "sdxl/sdk/status.h"

namespace sdxl::models {

struct UNetInputs {
  at::Tensor sample;                 // [B, in_channels, h, w], scheduler-scaled latents
  at::Tensor timestep;               // [B] or [] (float; may differ per row)
  at::Tensor encoder_hidden_states;  // [B, M, cross_attention_dim]
  at::Tensor text_embeds;            // [B, pooled_dim]
  at::Tensor time_ids;               // [B, n_ids]
  /// Optional ControlNet residuals: one per skip tensor (1 + levels*(L+1) - 1 of them), already scaled.
  std::vector<at::Tensor> down_residuals;
  at::Tensor mid_residual;           // optional, [B, C_last, h', w']
  /// Optional: every cross-attention's keys and values for encoder_hidden_states, computed once
  /// per job by cross_attention_kv() (the context is the same at every step). Must have been
  /// computed by this model from this very tensor; CUDA graphs leave it out (they capture the
  /// projections with the rest of the call).
  std::shared_ptr<const CrossAttentionKV> context_kv;
};

/// Called around each top-level stage of UNet2DConditionModel::forward, in order: "stem" (time and
/// added-condition embeddings + conv_in), "down_blocks.<i>", "mid_block", "up_blocks.<i>", "head"
/// (conv_norm_out + conv_out). The names are the parameter-name prefixes of the weights each stage
/// uses (UNet2DConditionModel::block_of), so a streamer can move exactly those weights in before()
/// and back in after() (memory/sequential_offload.h).
/// Contract: when before() throws, the stage does not run and after() is not called for it (so
/// before() must undo what it did); otherwise after() is called once the stage ends, also when it
/// throws. after() must not throw. Both may be called from several forwards at once.
class UNetBlockObserver {
 public:
  virtual ~UNetBlockObserver() = default;
  virtual void before(const std::string& block) = 0;
  virtual void after(const std::string& block) noexcept = 0;
};

/// Receives named intermediates (names as in the golden case: "time_proj", "down_blocks.0", …).
using DebugSink = std::function<void(const std::string& name, const at::Tensor& value)>;

class UNet2DConditionModel {
 public:
  /// Builds the model from diffusers-named tensors, converting each once to `dtype` on `device`.
  /// Every tensor must be consumed: missing, mis-shaped or left-over keys are errors naming `source`.
  static sdk::Result<std::shared_ptr<UNet2DConditionModel>> load(const std::map<std::string, at::Tensor>& weights,
                                                                 const UNetConfig& config, const std::string& source,
                                                                 c10::ScalarType dtype, c10::Device device);

  /// Every tensor name and shape the model built from `config` consumes (diffusers names).
  static sdk::Result<std::map<std::string, std::vector<std::int64_t>>> parameter_shapes(const UNetConfig& config);

  /// eps: [B, out_channels, h, w] in the compute dtype. Shape errors come back as invalid_argument.
  sdk::Result<at::Tensor> forward(const UNetInputs& in, const DebugSink* debug = nullptr) const;

  /// The keys and values of every cross-attention for `encoder_hidden_states` ([B, M,
  /// cross_attention_dim]), for UNetInputs::context_kv. Refused while a block observer streams
  /// the weights (they are not all on the device at once).
  sdk::Result<std::shared_ptr<const CrossAttentionKV>> cross_attention_kv(const at::Tensor& encoder_hidden_states) const;

  const UNetConfig& config() const { return config_; }
  c10::ScalarType dtype() const { return dtype_; }
  c10::Device device() const { return device_; }
  /// Bytes of weights held (for the memory ledger).
  std::uint64_t resident_bytes() const { return resident_bytes_; }
  /// The weights the model computes with, by diffusers name (shared storage: editing one in
  /// place changes the model — how LoRAs are merged).
  const std::map<std::string, at::Tensor>& parameters() const { return parameters_; }

  /// The stage (observer block name) whose weights `parameter` is, e.g. "down_blocks.1" for
  /// "down_blocks.1.resnets.0.conv1.weight", "stem" for "time_embedding.linear_1.bias"; empty
  /// when the name belongs to no stage.
  static std::string block_of(const std::string& parameter);
  /// Every stage name in forward order (the observer sees exactly these, once each).
  std::vector<std::string> block_names() const;
  /// Re-seats every convolution weight in channels-last (NHWC) memory, in place: the same
  /// tensors, so merged or runtime LoRAs, the arbiter's handles and CUDA-graph caches still see
  /// them. forward() then computes channels-last (its result stays the usual layout). The layout
  /// cuDNN's tensor-core convolutions read; GroupNorm keeps it on CUDA (gpu/group_norm_nhwc.h).
  /// Call before the model is shared between threads.
  void use_channels_last();
  bool channels_last() const { return channels_last_; }
  /// Stacks every self-attention's q, k and v weights in one storage, in place (same tensors, as
  /// use_channels_last), so each computes one [3C, C] product instead of three
  /// (models/common/stacked_weights.h; [gpu] fused_qkv). Returns how many are stacked. A weight
  /// later re-seated on its own storage (streamed off the device and back) ends its layer's
  /// stacking: that layer computes three products again, with the same result. Call before the
  /// model is shared between threads.
  std::size_t stack_self_attention_projections();
  /// How many self-attentions compute q, k and v in one product now (of self_attentions()).
  std::size_t stacked_self_attentions() const;
  /// Number of self-attention layers (transformer blocks) in the model.
  std::size_t self_attentions() const;
  /// Re-applies the weight layouts chosen so far (use_channels_last, stacked q/k/v) after the
  /// weights were re-seated tensor by tensor on fresh storage in the standard layout (the memory
  /// arbiter's moves and reloads: ParameterResidency::set_on_reseated). Same values either way.
  void restore_weight_layouts();
  /// Installs (nullptr: removes) the stage observer. Safe while forwards run: each forward uses
  /// the observer that was set when it started. Unset, forward pays one null check per stage.
  void set_block_observer(std::shared_ptr<UNetBlockObserver> observer);
  std::shared_ptr<UNetBlockObserver> block_observer() const;

 private:
  UNetConfig config_;
  c10::ScalarType dtype_ = at::kFloat;
  c10::Device device_ = at::kCPU;
  std::uint64_t resident_bytes_ = 0;
  std::uint64_t instance_ = 0;  // unique per loaded model: a CrossAttentionKV names its model by it
  bool channels_last_ = false;
  bool qkv_stacked_ = false;  // stack_self_attention_projections() was asked for
  std::map<std::string, at::Tensor> parameters_;
  // Swapped under a lock (the free std::atomic_load/store on a shared_ptr are deprecated in
  // C++20, which libtorch ≥ 2.13 requires; std::atomic<std::shared_ptr> does not exist in C++17).
  mutable std::mutex observer_mutex_;
  std::shared_ptr<UNetBlockObserver> observer_;

  TimestepEmbedding time_embedding;
  TimestepEmbedding add_embedding;
  Conv2d conv_in;
  std::vector<DownBlock> down_blocks;
  MidBlock mid_block;
  std::vector<UpBlock> up_blocks;
  GroupNorm conv_norm_out;
  Conv2d conv_out;

  void build(WeightReader& r);
  /// Calls fn on every Transformer2DModel of `unet` (const or not), in forward order.
  template <class Self, class Fn>
  static void for_each_transformer(Self& unet, Fn&& fn);
  sdk::Status check_inputs(const UNetInputs& in) const;
  at::Tensor run(const UNetInputs& in, const DebugSink* debug, UNetBlockObserver* observer) const;
};

}  // namespace sdxl::models
