#pragma once
// The "lora_" key family of kohya sd-scripts, A1111 and LyCORIS:
//   <group>.<suffix>, group = lora_unet_<module>, lora_te1_<module>, lora_te2_<module>, lora_te_<module>
// (module path with '.' -> '_', SGM or diffusers spelling; the host's ModuleResolver looks group
// names up exactly, never by turning '_' back into '.'). Suffixes: lora_down/lora_up/lora_mid
// (.weight), alpha, dora_scale, hada_*, lokr_*, diff, diff_b.
//
// One class serves five features: each claims the files where its algorithm (or DoRA) is found,
// but every one of them parses all algorithms, because LyCORIS can mix algorithms per module in
// one file (module_algo_map presets).

#include <optional>
#include <string>

#include "group_decoder.h"
#include "sdxl/sdk/lora_format.h"
#include "weight_delta.h"

namespace sdxl::lora {

/// What a feature's detect() looks for.
enum class KohyaClaim { low_rank, hadamard, kronecker, full, dora };

class KohyaFormat final : public sdk::LoraFormat {
 public:
  KohyaFormat(KohyaClaim claim, CommonSettings settings) : claim_(claim), settings_(settings) {}
  sdk::LoraDetection detect(const sdk::LoraFile& file) const override;
  sdk::Result<sdk::LoraParse> parse(const sdk::LoraFile& file, const sdk::ModuleResolver& modules) const override;
  void* extension(const char* id) override { return lora_format_extension(id); }

 private:
  sdk::Result<sdk::LoraParse> parse_unguarded(const sdk::LoraFile& file, const sdk::ModuleResolver& modules) const;
  KohyaClaim claim_;
  CommonSettings settings_;
};

/// True when `group` starts with a prefix of this family (lora_unet_, lora_te1_, lora_te2_, lora_te_).
bool has_kohya_prefix(const std::string& group);

}  // namespace sdxl::lora
