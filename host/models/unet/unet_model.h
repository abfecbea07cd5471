#pragma once
// SDXL UNet2DConditionModel (epsilon prediction), functional ATen, diffusers tensor names.
//
//   emb  = time_embedding(sinusoid(t)) + add_embedding(cat(text_embeds, sinusoid(time_ids)))
//   h    = conv_in(sample); skips = [h]
//   h    = down_blocks(h) (+ ControlNet residuals on every skip), mid_block(h) (+ mid residual)
//   h    = up_blocks(h, skips popped last-first)
//   eps  = conv_out(SiLU(conv_norm_out(h)))
//
// Thread rules: immutable after load(); forward() may run concurrently on different inputs.
// Ownership: holds its weights (views of the mapped file when dtype/device already match).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/common/layers.h"
#include "models/common/timestep_embedding.h"
#include "models/common/weight_reader.h"
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

  const UNetConfig& config() const { return config_; }
  c10::ScalarType dtype() const { return dtype_; }
  c10::Device device() const { return device_; }
  /// Bytes of weights held (for the memory ledger).
  std::uint64_t resident_bytes() const { return resident_bytes_; }
  /// The weights the model computes with, by diffusers name (shared storage: editing one in
  /// place changes the model — how LoRAs are merged).
  const std::map<std::string, at::Tensor>& parameters() const { return parameters_; }

 private:
  UNetConfig config_;
  c10::ScalarType dtype_ = at::kFloat;
  c10::Device device_ = at::kCPU;
  std::uint64_t resident_bytes_ = 0;
  std::map<std::string, at::Tensor> parameters_;

  TimestepEmbedding time_embedding;
  TimestepEmbedding add_embedding;
  Conv2d conv_in;
  std::vector<DownBlock> down_blocks;
  MidBlock mid_block;
  std::vector<UpBlock> up_blocks;
  GroupNorm conv_norm_out;
  Conv2d conv_out;

  void build(WeightReader& r);
  sdk::Status check_inputs(const UNetInputs& in) const;
  at::Tensor run(const UNetInputs& in, const DebugSink* debug) const;
};

}  // namespace sdxl::models
