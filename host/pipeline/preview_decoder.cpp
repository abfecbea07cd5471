#include "pipeline/preview_decoder.h"

#include "pipeline/vae_file.h"

namespace sdxl::pipeline {
namespace fs = std::filesystem;

sdk::Result<std::unique_ptr<sdk::VaeVariant>> load_preview_decoder(const fs::path& taesd,
                                                                   const plugins::PluginRegistry& registry,
                                                                   const plugins::Placement* placement) {
  auto weights = read_vae_weights(taesd);
  if (!weights.ok()) return sdk::Status(weights.status().code(), "preview decoder: " + weights.status().message());
  // Any VAE would decode a preview, but the full one costs as much as the final decode.
  if (weights.value().feature != "taesd")
    return sdk::invalid_argument("preview decoder " + taesd.string() + ": not a TAESD (AutoencoderTiny) VAE");
  auto vae = registry.create_vae_variant("taesd", nullptr, placement);
  if (!vae.ok()) return vae.status();
  sdk::WeightSet set{taesd.string(), &weights.value().tensors, weights.value().config_json};
  if (auto st = vae.value()->load(set); !st.ok())
    return sdk::Status(st.code(), "preview decoder " + taesd.string() + ": " + st.message());
  return std::move(vae).value();
}

}  // namespace sdxl::pipeline
