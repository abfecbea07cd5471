#pragma once
// Safetensors reading and writing, our own: memory-mapped, zero-copy where possible.
//
// File format: 8-byte little-endian header length H, H bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
// then the data section (offsets relative to its start), little-endian, C-contiguous.
//
// Every header field is validated when the file is opened, before anything is allocated from
// it: sizes that do not fit the file, offsets out of range, overlapping tensors, shapes whose
// byte count disagrees with the offsets. Errors name the file and the tensor.
//
// Thread rules: a SafetensorsFile is immutable after open(); tensor() may be called from any thread.
// Ownership: tensors returned by tensor() are views into the mapping and keep it alive.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::io {

/// One tensor's header entry.
struct TensorEntry {
  std::string name;
  std::string dtype;  ///< as in the file: "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL", …
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  ///< byte offset in the data section
  std::uint64_t end = 0;
};

class SafetensorsFile {
 public:
  /// Maps and validates `path`. Fails with corrupt_data (naming file and tensor) on any
  /// malformed header, not_found when the file cannot be opened.
  static sdk::Result<std::shared_ptr<SafetensorsFile>> open(const std::filesystem::path& path);

  /// Validates an in-memory image of a file (used by open() and by the fuzz test).
  static sdk::Result<std::shared_ptr<SafetensorsFile>> from_bytes(std::string label,
                                                                 std::shared_ptr<const void> owner,
                                                                 const std::uint8_t* data,
                                                                 std::uint64_t size);

  const std::string& path() const { return label_; }
  /// Entries in file order (sorted by data offset).
  const std::vector<TensorEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const TensorEntry* find(const std::string& name) const;

  /// The tensor as stored (dtype kept), on the CPU. A view into the mapping when its offset is
  /// aligned for its dtype, otherwise a copy. Writing to it never changes the file (the mapping
  /// is private copy-on-write).
  sdk::Result<at::Tensor> tensor(const std::string& name) const;

  /// All tensors, zero-copy where possible.
  sdk::Result<std::map<std::string, at::Tensor>> all_tensors() const;

 private:
  std::string label_;
  std::shared_ptr<const void> owner_;  // keeps the mapping alive
  const std::uint8_t* data_ = nullptr;  // start of the data section
  std::uint64_t data_size_ = 0;
  std::vector<TensorEntry> entries_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

/// Maps a safetensors dtype string to a torch scalar type; false when unsupported.
bool dtype_from_string(const std::string& s, c10::ScalarType* out, std::size_t* element_size);
/// The safetensors name of a torch dtype ("F32"…); empty when it has none.
std::string dtype_to_string(c10::ScalarType t);

/// Writes tensors (any CPU dtype with a safetensors name) in the given order, header padded to
/// a multiple of 8. Writes to a temporary file and renames, so a failure leaves no partial file.
sdk::Status write_safetensors(const std::filesystem::path& path,
                              const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace sdxl::io
