// Plugin org.sdxl.lora.kohya_lycoris: the "lora_" key family (kohya sd-scripts, A1111, LyCORIS).
#include "kohya_format.h"
#include "sdxl/sdk/sdk.h"

namespace sdxl::lora {
namespace {

struct FeatureDef {
  const char* name;
  KohyaClaim claim;
  std::vector<std::string> aliases;
  const char* description;
};

const std::vector<FeatureDef>& feature_defs() {
  static const std::vector<FeatureDef> defs = {
      {"kohya_lora", KohyaClaim::low_rank, {"kohya", "lora", "locon", "lycoris_locon"},
       "kohya/A1111 LoRA and LoCon: lora_down/lora_up/alpha, conv kernels, LyCORIS Tucker lora_mid; "
       "SGM or diffusers module spelling"},
      {"lycoris_loha", KohyaClaim::hadamard, {"loha"}, "LyCORIS LoHa (Hadamard product), plain and Tucker (hada_t1/t2)"},
      {"lycoris_lokr", KohyaClaim::kronecker, {"lokr"},
       "LyCORIS LoKr (Kronecker product): full or decomposed factors, Tucker lokr_t2"},
      {"lycoris_full", KohyaClaim::full, {"full", "lycoris_diff"}, "LyCORIS full: weight differences .diff and bias .diff_b"},
      {"dora", KohyaClaim::dora, {"lycoris_dora", "dora_wd"},
       "DoRA (dora_scale, output- or input-axis) on any kohya/LyCORIS algorithm"},
  };
  return defs;
}

class KohyaLycorisPlugin final : public sdk::Plugin {
 public:
  KohyaLycorisPlugin() {
    info_.id = "org.sdxl.lora.kohya_lycoris";
    info_.name = "kohya / LyCORIS LoRA formats";
    info_.version = "1.0.0";
    info_.vendor = "sdxl-worker";
    info_.license = "Apache-2.0";
    info_.description = "Reads kohya sd-scripts, A1111 and LyCORIS LoRA files (LoRA, LoCon, LoHa, LoKr, full, DoRA)";
    for (const auto& d : feature_defs()) {
      sdk::FeatureInfo f;
      f.kind = sdk::FeatureKind::lora_format;
      f.name = d.name;
      f.aliases = d.aliases;
      f.rank = sdk::rank::primary;
      f.description = d.description;
      f.options = common_lora_options();
      info_.features.push_back(std::move(f));
    }
  }
  const sdk::PluginInfo& info() const override { return info_; }

  sdk::Result<std::unique_ptr<sdk::LoraFormat>> create_lora_format(const std::string& feature, const sdk::Options& options,
                                                                   const sdk::HostServices&) override {
    return sdk::guard("create_lora_format", [&]() -> sdk::Result<std::unique_ptr<sdk::LoraFormat>> {
      for (const auto& d : feature_defs())
        if (feature == d.name)
          return std::unique_ptr<sdk::LoraFormat>(std::make_unique<KohyaFormat>(d.claim, read_common_settings(options)));
      return sdk::not_found("plugin " + info_.id + " has no lora_format '" + feature + "'");
    });
  }

 private:
  sdk::PluginInfo info_;
};

}  // namespace
}  // namespace sdxl::lora

SDXL_DEFINE_PLUGIN(sdxl::lora::KohyaLycorisPlugin, "org.sdxl.lora.kohya_lycoris")
