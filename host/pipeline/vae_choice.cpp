#include "pipeline/vae_choice.h"

#include <atomic>
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
                                                            const std::string& feature,
                                                            const plugins::Placement& placement, std::int64_t tile) {
  sdk::Options o;
  o.set("tiling", true);
  o.set("tile_size", tile);
  o.set("tile_overlap", tile / 4);
  return registry.create_vae_variant(feature, &o, &placement);
}

std::string mib(std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// A tiled instance on `placement` with the largest tile whose estimate fits `available`, loaded
// with the model's VAE weights; null when even the smallest tile does not fit.
sdk::Result<std::unique_ptr<sdk::VaeVariant>> fitting_variant(const SdxlModel& model, const plugins::PluginRegistry& registry,
                                                              const plugins::Placement& placement, at::IntArrayRef shape,
                                                              std::uint64_t available, std::string& why) {
  if (!can_tile(registry, model.vae_feature)) return std::unique_ptr<sdk::VaeVariant>();
  for (std::int64_t tile : kTileSizes) {
    auto tiled = tiled_variant(registry, model.vae_feature, placement, tile);
    if (!tiled.ok()) return tiled.status();
    const std::uint64_t need = tiled.value()->estimate_decode_bytes(shape);
    if (need > available) continue;
    sdk::WeightSet set{model.vae_source, &model.vae_weights, model.vae_config_json};
    if (auto st = tiled.value()->load(set); !st.ok()) return st;
    why = "tile " + std::to_string(tile) + " latent px needs " + mib(need);
    return std::move(tiled).value();
  }
  return std::unique_ptr<sdk::VaeVariant>();
}

std::atomic<std::uint64_t> g_decode_limit{0};

std::uint64_t available_on(c10::Device device) {
  // Plus the running job's own admitted scratch (memory/scratch_credit.h), already leased for it.
  return memory::with_scratch_credit(memory::process_ledger().available(device), device);
}

}  // namespace

void set_vae_decode_limit(std::uint64_t bytes) { g_decode_limit = bytes; }
std::uint64_t vae_decode_limit() { return g_decode_limit; }

sdk::Result<VaeChoice> choose_vae_for_decode(SdxlModel& model, const plugins::PluginRegistry& registry,
                                             at::IntArrayRef latent_shape) {
  VaeChoice out;
  out.vae = model.vae.get();
  out.device = model.device;
  const std::uint64_t free_here = available_on(model.device);
  const std::uint64_t limit = vae_decode_limit();
  const bool capped = limit != 0 && limit < free_here;
  const std::uint64_t available = capped ? limit : free_here;
  const std::uint64_t untiled = model.vae->estimate_decode_bytes(latent_shape);
  if (untiled <= available) {
    out.reason = "untiled decode (estimate " + mib(untiled) + " fits" + (capped ? " [memory] vae_decode" : "") + ")";
    return out;
  }
  const plugins::Placement here{model.device, model.dtype};
  std::string why;
  auto tiled = fitting_variant(model, registry, here, latent_shape, available, why);
  if (!tiled.ok()) return tiled.status();
  if (tiled.value()) {
    out.owned = std::move(tiled).value();
    out.vae = out.owned.get();
    out.reason = "tiled decode, " + why + ": untiled needs " + mib(untiled) + ", " + mib(available) +
                 (capped ? " allowed by [memory] vae_decode on " : " available on ") + model.device.str();
    return out;
  }
  // A GPU without room even for the smallest tile: decode on the host in float32.
  if (!model.device.is_cpu()) {
    const c10::Device host(c10::kCPU);
    const plugins::Placement on_host{host, c10::kFloat};
    const std::uint64_t host_available = available_on(host);
    auto whole = registry.create_vae_variant(model.vae_feature, nullptr, &on_host);
    if (!whole.ok()) return whole.status();
    std::unique_ptr<sdk::VaeVariant> variant;
    const std::uint64_t host_untiled = whole.value()->estimate_decode_bytes(latent_shape);
    if (host_untiled <= host_available) {
      sdk::WeightSet set{model.vae_source, &model.vae_weights, model.vae_config_json};
      if (auto st = whole.value()->load(set); !st.ok()) return st;
      variant = std::move(whole).value();
      why = "untiled needs " + mib(host_untiled);
    } else {
      auto host_tiled = fitting_variant(model, registry, on_host, latent_shape, host_available, why);
      if (!host_tiled.ok()) return host_tiled.status();
      variant = std::move(host_tiled).value();
    }
    if (variant) {
      out.owned = std::move(variant);
      out.vae = out.owned.get();
      out.device = host;
      out.reason = "decode on the host (cpu, float32; " + why + "): " + model.device.str() + " has " + mib(available) +
                   " available, the smallest tile there needs more";
      return out;
    }
  }
  const bool has_tiling = can_tile(registry, model.vae_feature);
  return sdk::Status(sdk::StatusCode::out_of_memory,
                     "VAE decode of latents " + std::to_string(latent_shape[2]) + "x" + std::to_string(latent_shape[3]) +
                         " needs " + mib(untiled) + " untiled and does not fit the " + mib(available) + " left on " +
                         model.device.str() + (has_tiling ? " even with 32-pixel tiles" : " (the VAE variant cannot tile)") +
                         (model.device.is_cpu() ? "" : ", nor on the host"));
}

std::uint64_t smallest_tiled_decode_bytes(const SdxlModel& model, const plugins::PluginRegistry& registry,
                                          at::IntArrayRef latent_shape) {
  if (!model.vae || !can_tile(registry, model.vae_feature)) return 0;
  const plugins::Placement here{model.device, model.dtype};
  auto tiled = tiled_variant(registry, model.vae_feature, here, kTileSizes[std::size(kTileSizes) - 1]);
  return tiled.ok() ? tiled.value()->estimate_decode_bytes(latent_shape) : 0;
}

}  // namespace sdxl::pipeline
