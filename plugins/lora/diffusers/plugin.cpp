// Plugin org.sdxl.lora.diffusers: diffusers / PEFT LoRA key spellings.
#include "diffusers_format.h"
#include "sdxl/sdk/sdk.h"

namespace sdxl::lora {
namespace {

class DiffusersLoraPlugin final : public sdk::Plugin {
 public:
  DiffusersLoraPlugin() {
    info_.id = "org.sdxl.lora.diffusers";
    info_.name = "diffusers / PEFT LoRA formats";
    info_.version = "1.0.0";
    info_.vendor = "sdxl-worker";
    info_.license = "Apache-2.0";
    info_.description = "Reads LoRA files saved by diffusers (PEFT lora_A/lora_B and the 0.19-0.23 spellings)";
    add("peft", {"diffusers", "diffusers_peft"},
        "diffusers >= 0.24 / PEFT: <component>.<module>.lora_A/lora_B.weight, optional alpha and DoRA magnitude");
    add("diffusers_legacy", {"diffusers_attnproc", "diffusers_compat"},
        "diffusers 0.19-0.23: attention-processor to_q_lora.down/up, LoRACompatible lora.down/up, "
        "text-encoder lora_linear_layer");
  }
  const sdk::PluginInfo& info() const override { return info_; }

  sdk::Result<std::unique_ptr<sdk::LoraFormat>> create_lora_format(const std::string& feature, const sdk::Options& options,
                                                                   const sdk::HostServices&) override {
    return sdk::guard("create_lora_format", [&]() -> sdk::Result<std::unique_ptr<sdk::LoraFormat>> {
      const CommonSettings s = read_common_settings(options);
      if (feature == "peft") return std::unique_ptr<sdk::LoraFormat>(std::make_unique<DiffusersFormat>(DiffusersEra::peft, s));
      if (feature == "diffusers_legacy")
        return std::unique_ptr<sdk::LoraFormat>(std::make_unique<DiffusersFormat>(DiffusersEra::legacy, s));
      return sdk::not_found("plugin " + info_.id + " has no lora_format '" + feature + "'");
    });
  }

 private:
  void add(const char* name, std::vector<std::string> aliases, const char* description) {
    sdk::FeatureInfo f;
    f.kind = sdk::FeatureKind::lora_format;
    f.name = name;
    f.aliases = std::move(aliases);
    f.rank = sdk::rank::primary;
    f.description = description;
    f.options = common_lora_options();
    info_.features.push_back(std::move(f));
  }
  sdk::PluginInfo info_;
};

}  // namespace
}  // namespace sdxl::lora

SDXL_DEFINE_PLUGIN(sdxl::lora::DiffusersLoraPlugin, "org.sdxl.lora.diffusers")
