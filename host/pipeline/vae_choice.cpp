#include "pipeline/vae_choice.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <limits>
#include <vector>

#include "memory/ledger.h"
#include "memory/scratch_credit.h"
#include "sdxl/sdk/vae_sizing.h"

namespace sdxl::pipeline {
namespace {

constexpr std::int64_t kTileSizes[] = {128, 96, 64, 48, 32};  // square fallback, latent pixels, largest first
constexpr std::int64_t kMaxSplits = 8;                        // fitted layouts: up to 8 x 8 tiles

// The variant's option `key` as its schema declares it; null when it has none.
const sdk::OptionSpec* find_option(const plugins::PluginRegistry& registry, const std::string& feature_name,
                                   const char* key) {
  const auto* feature = registry.find(sdk::FeatureKind::vae_variant, feature_name);
  if (feature)
    for (const auto& o : feature->info.options)
      if (o.key == key) return &o;
  return nullptr;
}

bool can_tile(const plugins::PluginRegistry& registry, const std::string& feature_name) {
  return find_option(registry, feature_name, "tiling") != nullptr;
}

// The largest value a tile side option takes (its schema's bound; no bound: any).
std::int64_t side_limit(const sdk::OptionSpec& side) {
  return side.max ? static_cast<std::int64_t>(*side.max) : std::numeric_limits<std::int64_t>::max();
}

// One way to cut the latent into tiles: height x width latent pixels each, `count` of them,
// overlapping by at least `overlap`. `work` is the latent pixels decoded in all (the untiled
// decode decodes H x W once; overlaps are decoded twice).
struct TileLayout {
  std::int64_t height = 0, width = 0, overlap = 0, count = 0;
  std::uint64_t work = 0;
};

// Tiles along an axis of `length` for tiles of `tile` overlapping by `overlap` (the plugin's
// layout rule: the fewest that cover it).
std::int64_t tiles_along(std::int64_t length, std::int64_t tile, std::int64_t overlap) {
  if (length <= tile) return 1;
  const std::int64_t stride = tile - overlap;
  return (length - tile + stride - 1) / stride + 1;
}

// The smallest tile side that covers `length` with `n` tiles overlapping by `overlap`.
std::int64_t side_for(std::int64_t length, std::int64_t n, std::int64_t overlap) {
  return n == 1 ? length : (length + (n - 1) * overlap + n - 1) / n;
}

// Tiles fitted to the picture, cheapest first: for every rows x cols split up to 8 x 8 (full-width
// strips included), the smallest tiles that cover it. A fixed tile side wastes work: 96-pixel
// tiles on a 128-pixel latent overlap by 64 and decode 2.25 times the picture, where two
// full-width strips of 72 rows use about as much memory per tile and decode 1.125 times it.
// Tiles taller than `max_height` or wider than `max_width` (the variant's option bounds) are left out.
std::vector<TileLayout> fitted_layouts(std::int64_t h, std::int64_t w, std::int64_t max_height, std::int64_t max_width) {
  std::vector<TileLayout> out;
  for (std::int64_t rows = 1; rows <= kMaxSplits; ++rows) {
    for (std::int64_t cols = 1; cols <= kMaxSplits; ++cols) {
      if (rows * cols == 1) continue;
      TileLayout t;
      t.overlap = 16;  // latent pixels (128 image pixels) of blending, as the default tiles
      t.height = side_for(h, rows, t.overlap);
      t.width = side_for(w, cols, t.overlap);
      if (std::min(rows > 1 ? t.height : h, cols > 1 ? t.width : w) < 64) {  // small tiles: 8, as 32-pixel tiles
        t.overlap = 8;
        t.height = side_for(h, rows, t.overlap);
        t.width = side_for(w, cols, t.overlap);
      }
      if ((rows > 1 && t.height < 32) || (cols > 1 && t.width < 32)) continue;  // too small to be worth it
      if (t.height > max_height || t.width > max_width) continue;
      const std::int64_t n_rows = tiles_along(h, t.height, t.overlap), n_cols = tiles_along(w, t.width, t.overlap);
      if (n_rows * n_cols < 2) continue;
      t.count = n_rows * n_cols;
      t.work = static_cast<std::uint64_t>(n_rows * t.height) * static_cast<std::uint64_t>(n_cols * t.width);
      out.push_back(t);
    }
  }
  // Least work first; then fewer tiles; then strips across rows (whole rows of memory) first.
  std::sort(out.begin(), out.end(), [](const TileLayout& a, const TileLayout& b) {
    if (a.work != b.work) return a.work < b.work;
    if (a.count != b.count) return a.count < b.count;
    return a.width > b.width;
  });
  return out;
}

// The model's VAE weights as the plugin loads them (the mapped originals, see sdxl_model.cpp).
sdk::WeightSet vae_weight_set(const SdxlModel& model) {
  return sdk::WeightSet{model.vae_source, &model.vae_weights, model.vae_config_json};
}

// A variant of the model's VAE feature on `placement`, not loaded (loading copies the weights to
// its device, so only the chosen candidate is), but sized for the model's VAE where it offers
// SDXL_VAE_SIZING_EXTENSION: otherwise its estimate is for its default architecture, which a VAE
// with another config (a float16-safe one with force_upcast false, a small test model) lacks.
sdk::Result<std::unique_ptr<sdk::VaeVariant>> sized_variant(const plugins::PluginRegistry& registry,
                                                            const SdxlModel& model, const sdk::Options* options,
                                                            const plugins::Placement& placement) {
  auto variant = registry.create_vae_variant(model.vae_feature, options, &placement);
  if (!variant.ok()) return variant.status();
  if (auto* sizing = static_cast<sdk::VaeSizing*>(variant.value()->extension(SDXL_VAE_SIZING_EXTENSION)))
    if (auto st = sizing->size_for(vae_weight_set(model)); !st.ok()) return st;
  return variant;
}

// A sized, unloaded variant with tile layout `t`.
sdk::Result<std::unique_ptr<sdk::VaeVariant>> tiled_variant(const plugins::PluginRegistry& registry,
                                                            const SdxlModel& model,
                                                            const plugins::Placement& placement, const TileLayout& t) {
  sdk::Options o;
  o.set("tiling", true);
  if (t.height == t.width) {
    o.set("tile_size", t.height);  // all a variant without tile_height / tile_width takes
  } else {
    o.set("tile_height", t.height);
    o.set("tile_width", t.width);
  }
  o.set("tile_overlap", t.overlap);
  return sized_variant(registry, model, &o, placement);
}

std::string mib(std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// Candidates, cheapest first: tiles fitted to the picture (where the variant takes separate tile
// heights and widths), then square tiles of fixed sides down to the smallest.
std::vector<TileLayout> tile_candidates(const plugins::PluginRegistry& registry, const std::string& feature,
                                        at::IntArrayRef shape) {
  std::vector<TileLayout> out;
  const std::int64_t h = shape[2], w = shape[3];
  const auto* height = find_option(registry, feature, "tile_height");
  const auto* width = find_option(registry, feature, "tile_width");
  if (height && width) out = fitted_layouts(h, w, side_limit(*height), side_limit(*width));
  for (std::int64_t tile : kTileSizes) {
    TileLayout t;
    t.height = t.width = tile;
    t.overlap = tile / 4;
    t.count = tiles_along(h, tile, t.overlap) * tiles_along(w, tile, t.overlap);
    if (t.count > 1) out.push_back(t);  // one tile would be the untiled decode
  }
  return out;
}

// A tiled instance on `placement` with the cheapest tiles whose estimate fits `available`, loaded
// with the model's VAE weights; null when even the smallest tile does not fit.
sdk::Result<std::unique_ptr<sdk::VaeVariant>> fitting_variant(const SdxlModel& model, const plugins::PluginRegistry& registry,
                                                              const plugins::Placement& placement, at::IntArrayRef shape,
                                                              std::uint64_t available, std::string& why) {
  if (!can_tile(registry, model.vae_feature)) return std::unique_ptr<sdk::VaeVariant>();
  for (const TileLayout& t : tile_candidates(registry, model.vae_feature, shape)) {
    auto tiled = tiled_variant(registry, model, placement, t);
    if (!tiled.ok()) return tiled.status();
    const std::uint64_t need = tiled.value()->estimate_decode_bytes(shape);
    if (need > available) continue;
    if (auto st = tiled.value()->load(vae_weight_set(model)); !st.ok()) return st;
    why = std::to_string(t.count) + " tiles of " + std::to_string(t.height) + "x" + std::to_string(t.width) +
          " latent px (overlap " + std::to_string(t.overlap) + ") need " + mib(need);
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
    auto whole = sized_variant(registry, model, nullptr, on_host);
    if (!whole.ok()) return whole.status();
    std::unique_ptr<sdk::VaeVariant> variant;
    const std::uint64_t host_untiled = whole.value()->estimate_decode_bytes(latent_shape);
    if (host_untiled <= host_available) {
      if (auto st = whole.value()->load(vae_weight_set(model)); !st.ok()) return st;
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
                         " needs " + mib(untiled) + " untiled and does not fit the " + mib(available) +
                         (capped ? " allowed by [memory] vae_decode on " : " left on ") + model.device.str() +
                         (has_tiling ? " even with 32-pixel tiles" : " (the VAE variant cannot tile)") +
                         (model.device.is_cpu() ? "" : ", nor on the host"));
}

std::uint64_t smallest_tiled_decode_bytes(const SdxlModel& model, const plugins::PluginRegistry& registry,
                                          at::IntArrayRef latent_shape) {
  if (!model.vae || !can_tile(registry, model.vae_feature)) return 0;
  const plugins::Placement here{model.device, model.dtype};
  TileLayout smallest;
  smallest.height = smallest.width = kTileSizes[std::size(kTileSizes) - 1];
  smallest.overlap = smallest.height / 4;
  auto tiled = tiled_variant(registry, model, here, smallest);
  return tiled.ok() ? tiled.value()->estimate_decode_bytes(latent_shape) : 0;
}

}  // namespace sdxl::pipeline
