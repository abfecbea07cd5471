#pragma once
// A loaded SDXL model: tokenizers, both text encoders, the UNet, a VAE from the vae_variant
// plugins, the model's own scheduler configuration and its pipeline flags. Built from a diffusers
// folder or a single-file checkpoint (with --model-config / clip_vocab for what a single file
// lacks). Every resident component is recorded in the memory ledger under its name.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "io/device_upload.h"
#include "models/clip/sdxl_text_encoders.h"
#include "models/unet/unet_model.h"
#include "pipeline/unet_graph_cache.h"
#include "plugins/registry.h"
#include "sdxl/sdk/vae_variant.h"
#include "tokenizer/sdxl_tokenizers.h"

namespace sdxl::pipeline {

struct ModelSpec {
  std::filesystem::path path;          ///< diffusers folder or .safetensors
  std::filesystem::path model_config;  ///< diffusers folder with configs/tokenizers (single files)
  std::filesystem::path clip_vocab;    ///< bpe_simple_vocab_16e6.txt.gz (single files without model_config)
  std::string vae = "kl";              ///< vae_variant feature for the checkpoint's own VAE
  /// A VAE of its own instead of the checkpoint's ([model] vae, --vae; pipeline/vae_file.h), its
  /// plugin chosen from the file. Empty: the checkpoint's.
  std::filesystem::path vae_path;
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::kFloat;
};

class SdxlModel {
 public:
  static sdk::Result<std::shared_ptr<SdxlModel>> load(const ModelSpec& spec, const plugins::PluginRegistry& registry);

  std::string name;  ///< file or folder stem (A1111 "Model:")
  tokenizer::SdxlTokenizers tokenizers;
  std::optional<models::clip::SdxlTextEncoders> text;
  std::shared_ptr<models::UNet2DConditionModel> unet;
  /// The UNet's captured CUDA graph, when [gpu] cuda_graphs is on (pipeline/unet_graph_cache.h).
  std::shared_ptr<UNetGraphCache> unet_graphs = std::make_shared<UNetGraphCache>();
  std::unique_ptr<sdk::VaeVariant> vae;
  std::string vae_feature = "kl";
  /// The VAE's weights as loaded (views of the file), kept so a differently configured VAE
  /// (tiled, when memory is short) can be built without re-reading the checkpoint.
  std::map<std::string, at::Tensor> vae_weights;
  std::string vae_config_json, vae_source;
  /// A VAE of its own ([model] vae): its file or folder name, as A1111's infotext "VAE" gives it.
  /// Empty: the checkpoint's own VAE.
  std::string vae_name;
  nlohmann::json scheduler_config;  ///< diffusers scheduler_config.json (SDXL base's when absent)
  bool force_zeros_for_empty_prompt = true;
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::kFloat;
  /// How each component's weights went to the GPU at load (io/device_upload.h; empty on the CPU
  /// or with [gpu] staged_upload off): for the log and `sdxl bench`.
  std::map<std::string, io::UploadStats> uploads;
};

/// "float32", "float16", "bfloat16" (names used in config, CLI and metadata).
const char* dtype_name(c10::ScalarType t);

/// Sets spec.device and spec.dtype from the configuration's words: device "auto" | "cpu" | "cuda"
/// ("auto": CUDA when present), dtype "auto" | "float32" | "float16" | "bfloat16" (or f32, f16,
/// bf16; "auto": float16 on CUDA, float32 on the CPU). Errors name `device_key` or `dtype_key`
/// (e.g. "--device", "[model] dtype"): an unknown word, CUDA asked for without CUDA, float16 on
/// the CPU (libtorch has no CPU kernels for it).
sdk::Status resolve_device_and_dtype(const std::string& device, const std::string& dtype, const std::string& device_key,
                                     const std::string& dtype_key, ModelSpec& spec);

/// Process-wide switch ([gpu] channels_last, set at start-up): models loaded onto CUDA from then
/// on run their UNet channels-last (UNet2DConditionModel::use_channels_last). On by default.
void set_unet_channels_last(bool enabled);
bool unet_channels_last_enabled();

/// Process-wide switch ([gpu] fused_qkv, set at start-up): models loaded onto CUDA from then on
/// stack their UNet self-attentions' q/k/v weights
/// (UNet2DConditionModel::stack_self_attention_projections). Off by default.
void set_unet_fused_qkv(bool enabled);
bool unet_fused_qkv_enabled();

/// SDXL base 1.0's scheduler configuration (EulerDiscreteScheduler, leading spacing).
nlohmann::json sdxl_base_scheduler_config();

}  // namespace sdxl::pipeline
