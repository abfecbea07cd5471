#pragma once
// The built-in demo model: a tiny model with SDXL's real structure (two CLIP text encoders, the
// SDXL UNet with text-time conditioning, the KL VAE), random weights from a fixed seed, written
// once as an ordinary diffusers folder into a cache directory and then loaded through the normal
// loading code. It needs no download and no CLIP vocabulary: its tokenizer is a byte-level
// vocabulary (one token per byte) written with it. It draws abstract noise, not pictures.

#include <filesystem>

#include "sdxl/sdk/status.h"

namespace sdxl::models::demo {

/// Bumped whenever the demo model's contents change, so stale caches are rebuilt.
constexpr int kDemoModelVersion = 1;

/// $SDXL_CACHE_DIR, else $XDG_CACHE_HOME/sdxl-worker, else ~/.cache/sdxl-worker, else /tmp/sdxl-worker.
std::filesystem::path default_cache_dir();

/// Returns the demo model's folder under `cache_dir`, writing it first when absent (atomically:
/// built in a temporary folder and renamed).
sdk::Result<std::filesystem::path> ensure_demo_model(const std::filesystem::path& cache_dir);

}  // namespace sdxl::models::demo
