#pragma once
// Access to ../shared/golden/models/sdxl_full_layouts.json (names, shapes and dtypes of the real
// SDXL base 1.0 / refiner 1.0 checkpoints, no weights) for the loader tests.
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "models/loader/config_inference.h"
#include "test_paths.h"

namespace sdxl::testing {

inline const std::filesystem::path kGoldenModels = sdxl::test_paths::golden_models_dir();

/// The parsed JSON, or null when the golden tree is absent.
inline const nlohmann::json* full_layouts() {
  static const nlohmann::json j = [] {
    std::ifstream in(kGoldenModels / "sdxl_full_layouts.json");
    return in ? nlohmann::json::parse(in) : nlohmann::json();
  }();
  return j.is_null() ? nullptr : &j;
}

inline const char* kModelNames[] = {"sdxl-base-1.0", "sdxl-refiner-1.0"};

/// Single-file header entries (name, dtype, shape; consecutive offsets) of one model.
inline std::vector<io::TensorEntry> single_file_entries(const nlohmann::json& model) {
  std::vector<io::TensorEntry> out;
  for (const auto& [name, info] : model["single_file"]["tensors"].items()) {
    io::TensorEntry e;
    e.name = name;
    e.dtype = info["dtype"].get<std::string>();
    e.shape = info["shape"].get<std::vector<std::int64_t>>();
    out.push_back(e);
  }
  return out;
}

/// diffusers shapes of one component.
inline models::loader::ShapeMap diffusers_shapes(const nlohmann::json& model, const std::string& component) {
  models::loader::ShapeMap m;
  for (const auto& [k, v] : model["diffusers"]["components"][component]["tensors"].items())
    m[k] = v.get<std::vector<std::int64_t>>();
  return m;
}

}  // namespace sdxl::testing

namespace sdxl::testing {

/// Writes a safetensors file with the real names/dtypes/shapes of `model`'s single file and no
/// data: the data section is a hole made by truncate() (sparse, so the "6.9 GB" uses no disk).
/// Returns false on an I/O error.
inline bool write_sparse_single_file(const std::filesystem::path& path, const nlohmann::json& model) {
  auto entries = single_file_entries(model);
  auto elem = [](const std::string& d) { return d == "I64" || d == "F64" ? 8 : (d == "F32" || d == "I32" ? 4 : 2); };
  std::sort(entries.begin(), entries.end(), [&](const io::TensorEntry& a, const io::TensorEntry& b) {
    return elem(a.dtype) != elem(b.dtype) ? elem(a.dtype) > elem(b.dtype) : a.name < b.name;
  });
  nlohmann::json header = nlohmann::json::object();
  std::uint64_t offset = 0;
  for (const auto& e : entries) {
    std::uint64_t n = elem(e.dtype);
    for (auto s : e.shape) n *= static_cast<std::uint64_t>(s);
    header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text = header.dump();
  while (text.size() % 8) text.push_back(' ');
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  std::uint64_t len = text.size();
  unsigned char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(len >> (8 * i));
  bool ok = std::fwrite(le, 1, 8, f) == 8 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = (std::fclose(f) == 0) && ok;
  return ok && ::truncate(path.c_str(), static_cast<off_t>(8 + len + offset)) == 0;
}

}  // namespace sdxl::testing
