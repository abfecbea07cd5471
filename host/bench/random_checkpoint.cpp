#include "bench/random_checkpoint.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace sdxl::bench {
namespace {

struct Entry {
  std::string name, dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t n = 1;
};

std::uint64_t element_size(const std::string& dtype) { return dtype == "I64" ? 8 : dtype == "F32" ? 4 : 2; }

at::Tensor random_values(const Entry& e) {
  const auto n = static_cast<std::int64_t>(e.n);
  if (e.dtype == "I64") return at::arange(n, at::kLong);
  const auto dtype = e.dtype == "F32" ? at::kFloat : e.dtype == "BF16" ? at::kBFloat16 : at::kHalf;
  return at::randn({n}).mul_(0.02).to(dtype);
}

}  // namespace

sdk::Status write_random_single_file(const std::filesystem::path& path, const nlohmann::json& model,
                                     std::uint64_t* bytes) {
  std::vector<Entry> entries;
  try {
    for (const auto& [name, info] : model.at("single_file").at("tensors").items()) {
      Entry e{name, info.at("dtype").get<std::string>(), info.at("shape").get<std::vector<std::int64_t>>()};
      for (auto s : e.shape) e.n *= static_cast<std::uint64_t>(s);
      entries.push_back(e);
    }
  } catch (const std::exception& ex) {
    return sdk::invalid_argument(std::string("layout: ") + ex.what());
  }
  // Largest elements first keeps every tensor aligned to its element size.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return element_size(a.dtype) > element_size(b.dtype); });
  nlohmann::json header = nlohmann::json::object();
  std::uint64_t offset = 0;
  for (const auto& e : entries) {
    const std::uint64_t size = e.n * element_size(e.dtype);
    header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  std::string text = header.dump();
  while (text.size() % 8) text.push_back(' ');
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return sdk::not_found("cannot write " + path.string());
  const std::uint64_t length = text.size();  // little-endian host, as safetensors requires
  bool ok = std::fwrite(&length, 8, 1, f) == 1 && std::fwrite(text.data(), 1, length, f) == length;
  for (const auto& e : entries) {
    if (!ok) break;
    const at::Tensor t = random_values(e);
    ok = std::fwrite(t.data_ptr(), 1, t.nbytes(), f) == t.nbytes();
  }
  ok = std::fclose(f) == 0 && ok;
  if (!ok) return sdk::internal_error("writing " + path.string() + " failed (disk full?)");
  *bytes = 8 + length + offset;
  return {};
}

}  // namespace sdxl::bench
