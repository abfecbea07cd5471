#pragma once
// SDXL ControlNetModel (diffusers semantics), functional ATen, diffusers tensor names.
//
//   emb   = time_embedding(sinusoid(t)) + add_embedding(cat(text_embeds, sinusoid(time_ids)))
//   h     = conv_in(sample) + cond_embedding(controlnet_cond)      // picture RGB in [0, 1]
//   skips = [h] + down_blocks(h);  h = mid_block(h)
//   down_residual[i] = controlnet_down_blocks[i](skips[i]) * scale  // 1x1 "zero" convs
//   mid_residual     = controlnet_mid_block(h) * scale
//
// The residuals go into UNetInputs::down_residuals / mid_residual (the UNet adds them).
// Loading accepts three layouts (controlnet_loader.h): a diffusers folder, the original "cldm"
// single file (optionally prefixed `control_model.`) and a single file with diffusers names.
//
// On a GPU it computes as the UNet it feeds does (pipeline/control_units.cpp): channels-last
// convolution weights, self-attention q/k/v in one product, the cross-attentions' keys and
// values once per job (ControlNetInputs::context_kv) — the same arithmetic.
//
// Thread rules: immutable after load() and the layout calls; forward() may run concurrently on
// different inputs.
// Ownership: holds its weights (views of the mapped file when dtype/device already match).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/common/layers.h"
#include "models/common/timestep_embedding.h"
#include "models/common/weight_reader.h"
#include "models/controlnet/controlnet_config.h"
#include "models/unet/cross_attention_kv.h"
#include "models/unet/unet_blocks.h"
#include "models/unet/unet_config.h"
#include "sdxl/sdk/status.h"

namespace sdxl::models {

/// Same conventions as UNetInputs, plus the control picture.
struct ControlNetInputs {
  at::Tensor sample;                 // [B, in_channels, h, w], scheduler-scaled latents
  at::Tensor timestep;               // [B] or []
  at::Tensor encoder_hidden_states;  // [B, M, cross_attention_dim]
  at::Tensor text_embeds;            // [B, pooled_dim]
  at::Tensor time_ids;               // [B, n_ids]
  at::Tensor controlnet_cond;        // [B, 3, H, W] RGB in [0, 1], H = 8h, W = 8w (full image resolution)
  double conditioning_scale = 1.0;
  /// Optional: this model's cross-attention keys/values for encoder_hidden_states, made once per
  /// job by ControlNetModel::cross_attention_kv() (as UNetInputs::context_kv).
  std::shared_ptr<const CrossAttentionKV> context_kv;
};

/// Already multiplied by conditioning_scale; down has one tensor per UNet skip connection.
struct ControlNetResiduals {
  std::vector<at::Tensor> down;  // [B, C_i, h_i, w_i], 1 + levels * (layers_per_block + 1) - 1 of them
  at::Tensor mid;                // [B, C_last, h', w']
};

/// `controlnet_cond_embedding`: conv3x3 + SiLU, then per step (conv3x3 + SiLU, conv3x3 stride 2
/// + SiLU), then conv3x3 to the UNet's first width. [B, 3, H, W] -> [B, C0, H/2^k, W/2^k].
struct ControlNetConditioningEmbedding {
  Conv2d conv_in;
  std::vector<Conv2d> blocks;
  Conv2d conv_out;
  void load(WeightReader& r, const ControlNetConfig& c);
  at::Tensor operator()(const at::Tensor& cond) const;
};

class ControlNetModel {
 public:
  /// Opens `file_or_folder` (any of the three layouts). `config_dir`: optional folder with a
  /// ControlNet config.json (or <dir>/controlnet/config.json) for single files, whose head counts
  /// the weights do not store; without it they follow SDXL's 64-channel-head convention.
  static sdk::Result<std::shared_ptr<ControlNetModel>> load(const std::filesystem::path& file_or_folder,
                                                            const std::filesystem::path& config_dir,
                                                            c10::ScalarType dtype, c10::Device device);

  /// Builds from diffusers-named tensors (every tensor must be consumed). `source` names them.
  static sdk::Result<std::shared_ptr<ControlNetModel>> from_weights(const std::map<std::string, at::Tensor>& weights,
                                                                    const ControlNetConfig& config,
                                                                    const std::string& source, c10::ScalarType dtype,
                                                                    c10::Device device);

  /// Every tensor name and shape a model built from `config` consumes (diffusers names).
  static sdk::Result<std::map<std::string, std::vector<std::int64_t>>> parameter_shapes(const ControlNetConfig& config);

  /// Residuals in the compute dtype. Shape errors come back as invalid_argument.
  sdk::Result<ControlNetResiduals> forward(const ControlNetInputs& in) const;
  /// Same, also handing the conditioning embedding output ([B, C0, h, w]) to `cond_embedding_out`.
  sdk::Result<ControlNetResiduals> forward(const ControlNetInputs& in, at::Tensor* cond_embedding_out) const;

  /// Refuses a ControlNet whose structure does not fit this UNet (message names both sides).
  sdk::Status check_compatible(const UNetConfig& unet, const std::string& unet_source = "the UNet") const;

  /// Every cross-attention's keys and values for `encoder_hidden_states` ([B, M,
  /// cross_attention_dim]), for ControlNetInputs::context_kv: the context is the same at every
  /// step of a job (UNet2DConditionModel::cross_attention_kv, models/unet/cross_attention_kv.h).
  sdk::Result<std::shared_ptr<const CrossAttentionKV>> cross_attention_kv(const at::Tensor& encoder_hidden_states) const;
  /// Convolution weights re-seated channels-last in place (UNet2DConditionModel::use_channels_last);
  /// forward() then computes channels-last and, on CUDA, its residuals come out channels-last, the
  /// layout a channels-last UNet adds them to. Call before the model is shared.
  void use_channels_last();
  bool channels_last() const { return channels_last_; }
  /// Each self-attention's q/k/v weights stacked in one storage, in place, one product instead of
  /// three (UNet2DConditionModel::stack_self_attention_projections). Returns how many are stacked
  /// (of self_attentions()). Call before the model is shared.
  std::size_t stack_self_attention_projections();
  std::size_t self_attentions() const;

  const ControlNetConfig& config() const { return config_; }
  c10::ScalarType dtype() const { return dtype_; }
  c10::Device device() const { return device_; }
  /// Bytes of weights held (for the memory ledger).
  std::uint64_t resident_bytes() const { return resident_bytes_; }
  /// The file or folder the model was loaded from.
  const std::string& source() const { return source_; }

 private:
  ControlNetConfig config_;
  c10::ScalarType dtype_ = at::kFloat;
  c10::Device device_ = at::kCPU;
  std::uint64_t resident_bytes_ = 0;
  std::string source_;
  std::uint64_t instance_ = CrossAttentionKV::new_model_id();  // the id its key/value sets carry
  bool channels_last_ = false;
  std::map<std::string, at::Tensor> parameters_;  // every weight the layers hold, by name

  TimestepEmbedding time_embedding;
  TimestepEmbedding add_embedding;
  Conv2d conv_in;
  ControlNetConditioningEmbedding cond_embedding;
  std::vector<DownBlock> down_blocks;
  MidBlock mid_block;
  std::vector<Conv2d> controlnet_down_blocks;  // 1x1, one per skip tensor
  Conv2d controlnet_mid_block;                 // 1x1

  void build(WeightReader& r);
  /// Calls fn on every Transformer2DModel (const or not), in forward order.
  template <class Self, class Fn>
  static void for_each_transformer(Self& model, Fn&& fn) {
    for_each_down_mid_transformer(model.down_blocks, model.mid_block, fn);
  }
  sdk::Status check_inputs(const ControlNetInputs& in) const;
  ControlNetResiduals run(const ControlNetInputs& in, at::Tensor* cond_embedding_out) const;
};

/// How a ControlNet's weights are laid out: as the UNet it feeds (ControlNetModel::use_channels_last,
/// stack_self_attention_projections).
struct ControlNetWeightLayout {
  bool channels_last = false;
  bool fused_qkv = false;
};

/// Process-wide cache: callers naming the same file (same config dir, dtype, device and weight
/// layout) share one loaded model. While any holder is alive the weights are recorded as
/// "controlnet:<stem>" in memory::process_ledger(); the entry goes when the last holder releases
/// the model. Thread-safe.
sdk::Result<std::shared_ptr<ControlNetModel>> shared_controlnet(const std::filesystem::path& file_or_folder,
                                                                const std::filesystem::path& config_dir,
                                                                c10::ScalarType dtype, c10::Device device,
                                                                ControlNetWeightLayout layout = {});

/// The ledger tag ("controlnet:<stem>", unique among live models) of a model obtained from
/// shared_controlnet(); empty for a model that did not come from the cache. The memory arbiter
/// registers cached ControlNets under this name so they are counted once.
std::string shared_controlnet_tag(const ControlNetModel& model);

}  // namespace sdxl::models
