#pragma once
// diffusers-era LoRA key spellings (golden/lora/README.md "diffusers / PEFT"):
//   PEFT (diffusers >= 0.24):   <component>.<module>.lora_A.weight / lora_B.weight
//                               (+ optional .alpha, DoRA .lora_magnitude_vector)
//   LoRACompatible (0.21-0.23): unet.<module>.lora.down.weight / .lora.up.weight
//   attention processors (0.19/0.20): unet.<block>.attn1.processor.to_q_lora.down.weight …
//   text encoders (both eras): text_encoder.<module>.lora_linear_layer.down.weight …
// Also accepted: the UNet keys without the "unet." prefix, and text-encoder to_q_lora spellings.
// One class serves two features (peft, diffusers_legacy); each claims the keys of its era but
// parses all of them, since files that mix eras exist.

#include <optional>
#include <string>

#include "group_decoder.h"
#include "sdxl/sdk/lora_format.h"

namespace sdxl::lora {

enum class DiffusersEra { peft, legacy };

/// One key split into module group (dotted, as spelled in the file) and kohya-spelled suffix.
struct DiffusersKey {
  std::string group;
  std::string suffix;  ///< "lora_down.weight", "lora_up.weight", "alpha", "dora_scale"
  std::optional<DiffusersEra> era;  ///< nullopt for era-neutral keys (alpha)
};
std::optional<DiffusersKey> classify_diffusers_key(const std::string& key);

class DiffusersFormat final : public sdk::LoraFormat {
 public:
  DiffusersFormat(DiffusersEra claim, CommonSettings settings) : claim_(claim), settings_(settings) {}
  sdk::LoraDetection detect(const sdk::LoraFile& file) const override;
  sdk::Result<sdk::LoraParse> parse(const sdk::LoraFile& file, const sdk::ModuleResolver& modules) const override;
  void* extension(const char* id) override { return lora_format_extension(id); }

 private:
  sdk::Result<sdk::LoraParse> parse_unguarded(const sdk::LoraFile& file, const sdk::ModuleResolver& modules) const;
  DiffusersEra claim_;
  CommonSettings settings_;
};

}  // namespace sdxl::lora
