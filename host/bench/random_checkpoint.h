#pragma once
// A full-size single-file checkpoint with random values, written from a layout description
// (../shared/golden/models/sdxl_full_layouts.json: every tensor's name, dtype and shape in the
// original single-file layout), so load times can be measured without downloading weights.

#include <cstdint>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "sdxl/sdk/status.h"

namespace sdxl::bench {

/// Streams `model["single_file"]["tensors"]` to `path`: F16/BF16/F32 tensors get values uniform
/// in ±0.02·√3 (standard deviation 0.02; in their dtype; different for every tensor name), I64
/// buffers 0..n-1. `bytes`: the file size written.
sdk::Status write_random_single_file(const std::filesystem::path& path, const nlohmann::json& model,
                                     std::uint64_t* bytes);

}  // namespace sdxl::bench
