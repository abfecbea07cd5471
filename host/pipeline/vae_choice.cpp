#include "pipeline/vae_choice.h"

#include <iterator>

#include "memory/ledger.h"
#include "memory/scratch_credit.h"

namespace sdxl::pipeline {
namespace {

constexpr std::int64_t kTileSizes[] = {128, 96, 64, 48, 32};  // latent pixels, largest first

bool can_tile(const plugins::PluginRegistry& registry, const std::string& feature_name) {
  const auto* feature = registry.find(sdk::FeatureKind::vae_variant, feature_name);
  bool has_tiling = false;
  if (feature)
    for (const auto& o : feature->info.options) has_tiling = has_tiling || o.key == "tiling";
  return has_tiling;
}

sdk::Result<std::unique_ptr<sdk::VaeVariant>> tiled_variant(const plugins::PluginRegistry& registry,
                                                            const SdxlModel& model, std::int64_t tile) {
  sdk::Options o;
  o.set("tiling", true);
  o.set("tile_size", tile);
  o.set("tile_overlap", tile / 4);
  const plugins::Placement placement{model.device, model.dtype};
  return registry.create_vae_variant(model.vae_feature, &o, &placement);
}

}  // namespace

sdk::Result<VaeChoice> choose_vae_for_decode(SdxlModel& model, const plugins::PluginRegistry& registry,
                                             at::IntArrayRef latent_shape) {
  VaeChoice out;
  out.vae = model.vae.get();
  // Plus the running job's own admitted scratch (memory/scratch_credit.h), already leased for it.
  const std::uint64_t available =
      memory::with_scratch_credit(memory::process_ledger().available(model.device), model.device);
  const std::uint64_t untiled = model.vae->estimate_decode_bytes(latent_shape);
  if (untiled <= available) {
    out.reason = "untiled decode (estimate " + std::to_string(untiled >> 20) + " MiB fits)";
    return out;
  }
  const bool has_tiling = can_tile(registry, model.vae_feature);
  if (has_tiling) {
    for (std::int64_t tile : kTileSizes) {
      auto tiled = tiled_variant(registry, model, tile);
      if (!tiled.ok()) return tiled.status();
      const std::uint64_t need = tiled.value()->estimate_decode_bytes(latent_shape);
      if (need > available) continue;
      sdk::WeightSet set{model.vae_source, &model.vae_weights, model.vae_config_json};
      if (auto st = tiled.value()->load(set); !st.ok()) return st;
      out.owned = std::move(tiled).value();
      out.vae = out.owned.get();
      out.reason = "tiled decode, tile " + std::to_string(tile) + " latent px: untiled needs " +
                   std::to_string(untiled >> 20) + " MiB, tiled " + std::to_string(need >> 20) + " MiB, " +
                   std::to_string(available >> 20) + " MiB available on " + model.device.str();
      return out;
    }
  }
  return sdk::Status(sdk::StatusCode::out_of_memory,
                     "VAE decode of latents " + std::to_string(latent_shape[2]) + "x" + std::to_string(latent_shape[3]) +
                         " needs " + std::to_string(untiled >> 20) + " MiB untiled and does not fit the " +
                         std::to_string(available >> 20) + " MiB left on " + model.device.str() +
                         (has_tiling ? " even with 32-pixel tiles" : " (the VAE variant cannot tile)"));
}

std::uint64_t smallest_tiled_decode_bytes(const SdxlModel& model, const plugins::PluginRegistry& registry,
                                          at::IntArrayRef latent_shape) {
  if (!model.vae || !can_tile(registry, model.vae_feature)) return 0;
  auto tiled = tiled_variant(registry, model, kTileSizes[std::size(kTileSizes) - 1]);
  return tiled.ok() ? tiled.value()->estimate_decode_bytes(latent_shape) : 0;
}

}  // namespace sdxl::pipeline
