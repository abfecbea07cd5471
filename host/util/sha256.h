#pragma once
// SHA-256 (FIPS 180-4), for A1111-compatible model and LoRA hashes ("Model hash" is the first
// 10 hex digits of the file's SHA-256), with a cache so a multi-gigabyte checkpoint is hashed once.

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

#include "sdxl/sdk/status.h"

namespace sdxl::util {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  std::array<std::uint8_t, 32> finish();
  static std::string hex(const std::array<std::uint8_t, 32>& digest);

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buf_{};
  std::size_t used_ = 0;
  std::uint64_t total_ = 0;
};

/// Hex SHA-256 of a file's contents.
sdk::Result<std::string> sha256_file(const std::filesystem::path& file);

/// Like sha256_file, but remembered in `cache_file` (JSON) by path, size and modification time.
sdk::Result<std::string> cached_sha256_file(const std::filesystem::path& file, const std::filesystem::path& cache_file);

}  // namespace sdxl::util
