#pragma once
// The host's ModuleResolver: every LoRA-targetable module of the loaded model (each 2-D or 4-D
// ".weight" parameter of unet / text_encoder / text_encoder_2) under every spelling LoRA files
// use, looked up exactly (golden/lora/README.md "Key grammar": never turn '_' back into '.').
//
// Spellings of a UNet module "down_blocks.1.attentions.0.proj_in":
//   unet.down_blocks.1.attentions.0.proj_in            canonical (diffusers / PEFT)
//   lora_unet_down_blocks_1_attentions_0_proj_in       kohya, diffusers-style
//   lora_unet_input_blocks_4_1_proj_in                 kohya, SGM-style
//   model.diffusion_model.input_blocks.4.1.proj_in     SGM dotted (also "unet.input_blocks.4.1.proj_in")
// Text encoders: text_encoder[_2].<path>, lora_te1_/lora_te2_<path with _>, lora_te_ (= TE1).
//
// The table is derived from the model's parameter list, so it serves the tiny test model and the
// full-size SDXL alike; the SGM names follow the block-layout rule with layers_per_block and the
// up blocks that have attentions read from that list.
//
// Thread rules: immutable after from_params(); resolve() may be called from any thread.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sdxl/sdk/lora_format.h"

namespace sdxl::lora {

/// Parameter name with component prefix ("unet.conv_in.weight") -> shape.
using ParamShapes = std::map<std::string, std::vector<std::int64_t>>;

/// What the diffusers -> SGM rule needs to know about the UNet.
struct UnetLayout {
  int layers_per_block = 2;                 ///< resnets per down block (up blocks have one more)
  std::set<int> up_blocks_with_attentions;  ///< decides the upsampler's index (.2 vs .1)
};
UnetLayout infer_unet_layout(const ParamShapes& params);

/// SGM module path of a diffusers UNet module path ("down_blocks.1.attentions.0.proj_in" ->
/// "input_blocks.4.1.proj_in"); nullopt for paths outside the SDXL block layout.
std::optional<std::string> sgm_module_path(const std::string& diffusers_module, const UnetLayout& layout);

class ModuleTable final : public sdk::ModuleResolver {
 public:
  static ModuleTable from_params(const ParamShapes& params);

  std::optional<sdk::ModuleInfo> resolve(std::string_view name) const override;
  std::size_t module_count() const { return modules_.size(); }
  const std::vector<sdk::ModuleInfo>& modules() const { return modules_; }
  /// Identifies the module set (names and shapes); the parse cache keys on it.
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  std::vector<sdk::ModuleInfo> modules_;
  std::map<std::string, std::size_t, std::less<>> by_spelling_;
  std::string fingerprint_;
};

}  // namespace sdxl::lora
