// Plugin `org.sdxl.vae.kl`: provides the vae_variant feature `kl` (SDXL's AutoencoderKL).
#include "kl_vae.h"
#include "sdxl/sdk/sdk.h"

namespace sdxl::vae_kl {
namespace {

class KlPlugin final : public sdk::Plugin {
 public:
  KlPlugin() {
    info_.id = "org.sdxl.vae.kl";
    info_.name = "SDXL KL VAE";
    info_.version = "1.0.0";
    info_.vendor = "sdxl-worker";
    info_.license = "Apache-2.0";
    info_.description = "AutoencoderKL (SDXL VAE) with tiled and sliced encode/decode";
    sdk::FeatureInfo f;
    f.kind = sdk::FeatureKind::vae_variant;
    f.name = "kl";
    f.aliases = {"autoencoder_kl", "sdxl_vae", "AutoencoderKL"};
    f.rank = sdk::rank::primary;
    f.description = "Stable Diffusion XL's KL-regularised autoencoder (diffusers AutoencoderKL)";
    f.options = kl_option_schema();
    info_.features.push_back(std::move(f));
  }
  const sdk::PluginInfo& info() const override { return info_; }

  sdk::Result<std::unique_ptr<sdk::VaeVariant>> create_vae_variant(const std::string& feature,
                                                                   const sdk::Options& options,
                                                                   const sdk::HostServices& services) override {
    return sdk::guard("vae kl create", [&]() -> sdk::Result<std::unique_ptr<sdk::VaeVariant>> {
      if (feature != "kl") return sdk::unsupported("plugin " + info_.id + " provides no vae_variant '" + feature + "'");
      return std::unique_ptr<sdk::VaeVariant>(std::make_unique<KlVae>(options, services));
    });
  }

 private:
  sdk::PluginInfo info_;
};

}  // namespace
}  // namespace sdxl::vae_kl

SDXL_DEFINE_PLUGIN(sdxl::vae_kl::KlPlugin, "org.sdxl.vae.kl")
