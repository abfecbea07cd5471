#pragma once
/// @file lora_format.h
/// Kind `lora_format`: recognises a LoRA dialect by its key grammar and turns a file into
/// per-module weight patches keyed by canonical module names.
/// @since 1.0
///
/// Canonical module names are diffusers names with the component in front:
/// "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q",
/// "text_encoder.text_model.encoder.layers.0.self_attn.q_proj", "text_encoder_2.…".
/// The host's ModuleResolver turns any spelling a file uses (kohya "lora_unet_…", "lora_te1_…",
/// SGM "input_blocks.4.1.…", diffusers/PEFT dotted names) into that form.
///
/// Thread rules: detect() and parse() may be called concurrently on one LoraFormat object.
/// WeightPatch::apply is const and thread-safe.
/// Ownership: the host owns the LoraFile's tensors for the duration of the call; patches may keep
/// references (at::Tensor is reference counted) to them.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::sdk {
inline namespace v1 {

/// A LoRA file as read by the host (zero-copy views, dtype as stored).
struct LoraFile {
  std::string path;
  const std::map<std::string, at::Tensor>* tensors = nullptr;
  const std::map<std::string, std::string>* metadata = nullptr;  ///< safetensors __metadata__
};

/// A module of the loaded model that a LoRA can target.
struct ModuleInfo {
  std::string canonical;                  ///< "unet.…", "text_encoder.…", "text_encoder_2.…"
  std::vector<std::int64_t> weight_shape;  ///< the module's weight shape ([out,in] or [out,in,kh,kw])
};

/// Resolves module names as LoRA files spell them.
class ModuleResolver {
 public:
  virtual ~ModuleResolver() = default;
  /// `name` without the LoRA suffix (".lora_down.weight" etc.); nullopt when no module matches.
  virtual std::optional<ModuleInfo> resolve(std::string_view name) const = 0;
};

/// How sure a format is that a file is its own.
struct LoraDetection {
  double confidence = 0.0;  ///< 0 = not mine, 1 = certainly mine
  std::string reason;       ///< what was recognised (or why not)
};

/// One module's change. apply() returns base + change (so DoRA-style rules that look at the
/// base weight fit the same interface).
class WeightPatch {
 public:
  virtual ~WeightPatch() = default;
  virtual const std::string& module() const = 0;     ///< canonical module name
  virtual const std::string& parameter() const = 0;  ///< "weight" or "bias"
  /// `base` is float32 with the module parameter's shape; `multiplier` the user's strength.
  virtual Result<at::Tensor> apply(const at::Tensor& base, double multiplier) const = 0;
  virtual std::int64_t rank() const { return 0; }  ///< 0 when not meaningful (full diff)
};

struct LoraParse {
  std::vector<std::unique_ptr<WeightPatch>> patches;
  std::vector<std::string> warnings;  ///< keys ignored, and why
};

class LoraFormat {
 public:
  virtual ~LoraFormat() = default;
  virtual LoraDetection detect(const LoraFile& file) const = 0;
  virtual Result<LoraParse> parse(const LoraFile& file, const ModuleResolver& modules) const = 0;
  virtual void* extension(const char* /*id*/) { return nullptr; }
};

}  // namespace v1
}  // namespace sdxl::sdk
