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
// Thread rules: immutable after load(); forward() may run concurrently on different inputs.
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

  TimestepEmbedding time_embedding;
  TimestepEmbedding add_embedding;
  Conv2d conv_in;
  ControlNetConditioningEmbedding cond_embedding;
  std::vector<DownBlock> down_blocks;
  MidBlock mid_block;
  std::vector<Conv2d> controlnet_down_blocks;  // 1x1, one per skip tensor
  Conv2d controlnet_mid_block;                 // 1x1

  void build(WeightReader& r);
  sdk::Status check_inputs(const ControlNetInputs& in) const;
  ControlNetResiduals run(const ControlNetInputs& in, at::Tensor* cond_embedding_out) const;
};

/// Process-wide cache: callers naming the same file (same config dir, dtype and device) share one
/// loaded model. While any holder is alive the weights are recorded as "controlnet:<stem>" in
/// memory::process_ledger(); the entry goes when the last holder releases the model.
/// Thread-safe.
sdk::Result<std::shared_ptr<ControlNetModel>> shared_controlnet(const std::filesystem::path& file_or_folder,
                                                                const std::filesystem::path& config_dir,
                                                                c10::ScalarType dtype, c10::Device device);

/// The ledger tag ("controlnet:<stem>", unique among live models) of a model obtained from
/// shared_controlnet(); empty for a model that did not come from the cache. The memory arbiter
/// registers cached ControlNets under this name so they are counted once.
std::string shared_controlnet_tag(const ControlNetModel& model);

}  // namespace sdxl::models
