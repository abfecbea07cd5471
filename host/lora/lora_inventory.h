#pragma once
// What `sdxl lora list` shows about LoRA files without loading a model: detected format (or why
// none), which components the groups target, the rank, and what the metadata says (title, base
// model, algorithm, trigger words).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "lora/lora_library.h"

namespace sdxl::lora {

struct InventoryEntry {
  std::string path;
  std::uint64_t bytes = 0;
  bool recognised = false;
  std::string format;  ///< best lora_format feature
  double confidence = 0;
  std::string reason;  ///< the format's reason, or why the file is not usable
  std::size_t tensors = 0;
  std::map<std::string, std::size_t> modules_per_target;  ///< unet / text_encoder / text_encoder_2 / other
  std::int64_t rank = 0;                                   ///< most common rank of the groups (0: none)
  std::string title, base_model, algorithm;
  std::vector<std::string> trigger_words;
};

/// One entry per *.safetensors file under `root` (recursively; or `root` itself when a file), sorted by path.
sdk::Result<std::vector<InventoryEntry>> inventory(const std::filesystem::path& root, const LoraLibrary& library);
/// Describes one opened file.
InventoryEntry describe(const LoraSource& source, const LoraLibrary& library);

nlohmann::json to_json(const InventoryEntry& e);
std::string to_text(const InventoryEntry& e);

}  // namespace sdxl::lora
