// Plugin `org.sdxl.vae.taesd`: provides the vae_variant feature `taesd` (TAESD-XL).
#include "sdxl/sdk/sdk.h"
#include "taesd_vae.h"

namespace sdxl::vae_taesd {
namespace {

class TaesdPlugin final : public sdk::Plugin {
 public:
  TaesdPlugin() {
    info_.id = "org.sdxl.vae.taesd";
    info_.name = "TAESD-XL";
    info_.version = "1.0.0";
    info_.vendor = "sdxl-worker";
    info_.license = "Apache-2.0";
    info_.description = "Tiny autoencoder (diffusers AutoencoderTiny) for fast approximate decodes";
    sdk::FeatureInfo f;
    f.kind = sdk::FeatureKind::vae_variant;
    f.name = "taesd";
    f.aliases = {"taesdxl", "autoencoder_tiny", "AutoencoderTiny"};
    f.rank = sdk::rank::primary;
    f.description = "TAESD / TAESD-XL tiny autoencoder";
    f.options = taesd_option_schema();
    info_.features.push_back(std::move(f));
  }
  const sdk::PluginInfo& info() const override { return info_; }

  sdk::Result<std::unique_ptr<sdk::VaeVariant>> create_vae_variant(const std::string& feature,
                                                                   const sdk::Options& options,
                                                                   const sdk::HostServices& services) override {
    return sdk::guard("vae taesd create", [&]() -> sdk::Result<std::unique_ptr<sdk::VaeVariant>> {
      if (feature != "taesd") return sdk::unsupported("plugin " + info_.id + " provides no vae_variant '" + feature + "'");
      return std::unique_ptr<sdk::VaeVariant>(std::make_unique<TaesdVae>(options, services));
    });
  }

 private:
  sdk::PluginInfo info_;
};

}  // namespace
}  // namespace sdxl::vae_taesd

SDXL_DEFINE_PLUGIN(sdxl::vae_taesd::TaesdPlugin, "org.sdxl.vae.taesd")
