#pragma once
// Reading LoRA files: open (validated safetensors), pick the format whose detect() is most
// confident, parse against the model's ModuleTable. Parsed files are cached by path, mtime,
// size and the model's module fingerprint, so switching back to a LoRA costs no re-parse.
//
// Thread rules: load() and detect() may be called from any thread (the cache is locked).
// Ownership: the library owns the format objects; a LoadedLora keeps its file mapping alive.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "lora/module_table.h"
#include "sdxl/sdk/lora_format.h"
#include "sdxl/sdk/lora_low_rank.h"
#include "sdxl/sdk/status.h"

namespace sdxl::lora {

/// A lora_format feature object under its feature name.
struct NamedFormat {
  std::string name;
  std::unique_ptr<sdk::LoraFormat> format;
};

/// What every format said about one file, best first.
struct DetectionReport {
  std::vector<std::pair<std::string, sdk::LoraDetection>> answers;  ///< sorted, highest confidence first
  bool recognised() const { return !answers.empty() && answers.front().second.confidence > 0.0; }
  /// "kohya_lora: …; peft: …" — why nothing (or what) matched.
  std::string summary() const;
};

/// An opened LoRA file (tensors as stored, zero-copy) before parsing.
struct LoraSource {
  std::filesystem::path path;
  std::shared_ptr<io::SafetensorsFile> file;
  std::map<std::string, at::Tensor> tensors;
  sdk::LoraFile view() const { return sdk::LoraFile{path.string(), &tensors, &file->metadata()}; }
};
sdk::Result<std::shared_ptr<LoraSource>> open_lora_source(const std::filesystem::path& path);

struct LoadedLora {
  std::shared_ptr<const LoraSource> source;
  std::string format;  ///< feature name that parsed it
  sdk::LoraDetection detection;
  sdk::LoraParse parse;
  /// parse.patches[i] as low-rank factors where its format offers them (sdk/lora_low_rank.h),
  /// nullopt for every other patch. Same length as parse.patches.
  std::vector<std::optional<sdk::LowRankFactors>> low_rank;
};

class LoraLibrary {
 public:
  explicit LoraLibrary(std::vector<NamedFormat> formats) : formats_(std::move(formats)) {}

  const std::vector<NamedFormat>& formats() const { return formats_; }
  DetectionReport detect(const sdk::LoraFile& file) const;

  /// Opens, detects (or uses `format` when non-empty) and parses `path` for `modules`.
  /// Errors name the file, and the key group for LoRA-level problems.
  sdk::Result<std::shared_ptr<const LoadedLora>> load(const std::filesystem::path& path, const ModuleTable& modules,
                                                      const std::string& format = "");

  std::uint64_t cache_hits() const { return hits_; }
  std::uint64_t cache_misses() const { return misses_; }
  void clear_cache();

 private:
  struct CacheEntry {
    std::int64_t mtime_ns = 0;
    std::uint64_t size = 0;
    std::string fingerprint, format;
    std::shared_ptr<const LoadedLora> lora;
  };
  std::vector<NamedFormat> formats_;
  std::mutex mutex_;
  std::map<std::string, CacheEntry> cache_;
  std::uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace sdxl::lora
