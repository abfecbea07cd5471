#pragma once
// LoRAs on a loaded model, in one of two modes ([lora] mode, --lora-mode):
//  * merge (default): the weights the networks compute with are merged in place (fp32
//    arithmetic, stored back in the compute dtype) and unmerged bit-identically when the set
//    changes, so switching LoRA sets never reloads the checkpoint;
//  * runtime: the weights are never written; patched layers add the LoRA term in the forward
//    pass (lora/runtime_engine.h) — for quantised or shared weights, and instant switches.
// Parsed files are cached.
//
// Thread rules: one job at a time per model (the caller serialises jobs).

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "lora/lora_library.h"
#include "lora/merge_engine.h"
#include "lora/module_table.h"
#include "lora/runtime_engine.h"
#include "pipeline/sdxl_model.h"

namespace sdxl::pipeline {

struct LoraRequest {
  std::filesystem::path path;
  double unet = 1.0;          ///< multiplier on the UNet
  double text_encoder = 1.0;  ///< multiplier on both text encoders
};

/// "file.safetensors:0.8" or "file:0.8:0.5" (unet, then text encoder) → LoraRequest.
sdk::Result<LoraRequest> parse_lora_argument(const std::string& arg);

/// Resolves a prompt tag's name (`<lora:name:…>`) inside `folders` only: name, name.safetensors,
/// never a path that leaves the folder.
sdk::Result<std::filesystem::path> resolve_lora_name(const std::string& name,
                                                     const std::vector<std::filesystem::path>& folders);

/// The forms users write in TOML: "name:0.8" (a name in `folders`, or a path), { path = …,
/// weight = 0.8 }, { path = …, unet = 0.8, text_encoder = 0.3 }. Errors carry file:line:column.
sdk::Result<std::vector<LoraRequest>> loras_from_toml(const toml::array& list, const std::string& file,
                                                      const std::vector<std::filesystem::path>& folders);

enum class LoraMode { merge, runtime };
/// "merge" | "runtime"; errors name the accepted values.
sdk::Result<LoraMode> parse_lora_mode(const std::string& text);
const char* to_string(LoraMode mode);

/// Whether the networks compute with parameter `name` ("unet.…weight", "text_encoder….weight")
/// through a layer that honours runtime adapters: every UNet Linear/Conv2d weight, and the
/// attention and MLP projections of the CLIP text encoders (not their embeddings or the
/// pooled-output projection).
bool runtime_adaptable(const std::string& name);

class ModelLoras {
 public:
  static sdk::Result<std::unique_ptr<ModelLoras>> create(SdxlModel& model, const plugins::PluginRegistry& registry,
                                                         LoraMode mode = LoraMode::merge);
  /// Makes `stack` the active set (unmerging the previous one first). Empty: the plain model.
  sdk::Status apply(const std::vector<LoraRequest>& stack);
  /// Names and multipliers of the active set, for the PNG metadata.
  const std::vector<LoraRequest>& active() const { return active_; }
  LoraMode mode() const { return mode_; }

 private:
  lora::WeightMap weights_;
  std::unique_ptr<lora::ModuleTable> modules_;
  std::unique_ptr<lora::LoraLibrary> library_;
  std::unique_ptr<lora::MergeEngine> engine_;
  std::unique_ptr<lora::RuntimeEngine> runtime_;
  LoraMode mode_ = LoraMode::merge;
  std::vector<LoraRequest> active_;
  c10::Device device_ = c10::Device(c10::kCPU);  ///< where the backups live
};

}  // namespace sdxl::pipeline
