#include "io/safetensors.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>

namespace sdxl::io {
namespace {

// Headers of real checkpoints are well under 1 MB; 100 MB is the limit the format's authors use.
constexpr std::uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;

struct Mapping {
  void* addr = nullptr;
  std::size_t size = 0;
  ~Mapping() {
    if (addr && addr != MAP_FAILED) munmap(addr, size);
  }
};

sdk::Status corrupt(const std::string& file, const std::string& what) {
  return sdk::corrupt_data(file + ": " + what);
}

bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}

}  // namespace

bool dtype_from_string(const std::string& s, c10::ScalarType* out, std::size_t* size) {
  static const std::map<std::string, std::pair<c10::ScalarType, std::size_t>> table = {
      {"F64", {c10::kDouble, 8}}, {"F32", {c10::kFloat, 4}},  {"F16", {c10::kHalf, 2}},
      {"BF16", {c10::kBFloat16, 2}}, {"I64", {c10::kLong, 8}}, {"I32", {c10::kInt, 4}},
      {"I16", {c10::kShort, 2}},  {"I8", {c10::kChar, 1}},   {"U8", {c10::kByte, 1}},
      {"BOOL", {c10::kBool, 1}}};
  auto it = table.find(s);
  if (it == table.end()) return false;
  *out = it->second.first;
  *size = it->second.second;
  return true;
}

std::string dtype_to_string(c10::ScalarType t) {
  switch (t) {
    case c10::kDouble: return "F64";
    case c10::kFloat: return "F32";
    case c10::kHalf: return "F16";
    case c10::kBFloat16: return "BF16";
    case c10::kLong: return "I64";
    case c10::kInt: return "I32";
    case c10::kShort: return "I16";
    case c10::kChar: return "I8";
    case c10::kByte: return "U8";
    case c10::kBool: return "BOOL";
    default: return {};
  }
}

// Element sizes of dtypes we can list but not turn into tensors (fp8 files): the header is still
// valid, and a clear error comes only when such a tensor is read.
static std::size_t known_element_size(const std::string& dtype) {
  c10::ScalarType t;
  std::size_t size = 0;
  if (dtype_from_string(dtype, &t, &size)) return size;
  if (dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
  if (dtype == "U16") return 2;
  if (dtype == "U32") return 4;
  if (dtype == "U64") return 8;
  return 0;
}

sdk::Result<std::shared_ptr<SafetensorsFile>> SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string label = path.string();
  int fd = ::open(label.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sdk::not_found(label + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return sdk::not_found(label + ": not a regular file");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<std::size_t>(st.st_size);
  if (mapping->size == 0) {
    ::close(fd);
    return corrupt(label, "empty file (a safetensors file starts with an 8-byte header length)");
  }
  // Private + writable: copy-on-write, so a caller modifying a view never touches the file.
  mapping->addr = mmap(nullptr, mapping->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping->addr == MAP_FAILED) return sdk::internal_error(label + ": mmap failed: " + std::strerror(errno));
  const auto* bytes = static_cast<const std::uint8_t*>(mapping->addr);
  return from_bytes(label, mapping, bytes, mapping->size);
}

sdk::Result<std::shared_ptr<SafetensorsFile>> SafetensorsFile::from_bytes(std::string label,
                                                                         std::shared_ptr<const void> owner,
                                                                         const std::uint8_t* bytes,
                                                                         std::uint64_t size) {
  if (size < 8) return corrupt(label, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderBytes)
    return corrupt(label, "header length " + std::to_string(header_len) + " exceeds the 100 MB limit");
  if (header_len > size - 8)
    return corrupt(label, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                              std::to_string(size) + " bytes): truncated or not a safetensors file");

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + 8 + header_len);
  } catch (const std::exception& e) {
    return corrupt(label, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) return corrupt(label, "header is not a JSON object");

  auto file = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  file->label_ = std::move(label);
  file->owner_ = std::move(owner);
  file->data_ = bytes + 8 + header_len;
  file->data_size_ = size - 8 - header_len;
  const std::string& lbl = file->label_;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return corrupt(lbl, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) return corrupt(lbl, "__metadata__ value of '" + m.key() + "' is not a string");
        file->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!v.is_object()) return corrupt(lbl, where + "entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) return corrupt(lbl, where + "missing or non-string dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) return corrupt(lbl, where + "missing or non-array shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      return corrupt(lbl, where + "data_offsets must be [begin, end]");
    TensorEntry e;
    e.name = name;
    e.dtype = v["dtype"].get<std::string>();
    const std::size_t elem = known_element_size(e.dtype);
    if (elem == 0) return corrupt(lbl, where + "unknown dtype '" + e.dtype + "'");
    std::uint64_t count = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<std::int64_t>() >= 0))
        return corrupt(lbl, where + "shape has a non-integer or negative dimension");
      const auto dim = d.get<std::uint64_t>();
      if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) || mul_overflows(count, dim, &count))
        return corrupt(lbl, where + "shape's element count overflows");
      e.shape.push_back(static_cast<std::int64_t>(dim));
    }
    for (const auto& o : v["data_offsets"])
      if (!o.is_number_unsigned() && !(o.is_number_integer() && o.get<std::int64_t>() >= 0))
        return corrupt(lbl, where + "data_offsets are not non-negative integers");
    e.begin = v["data_offsets"][0].get<std::uint64_t>();
    e.end = v["data_offsets"][1].get<std::uint64_t>();
    std::uint64_t nbytes = 0;
    if (mul_overflows(count, elem, &nbytes)) return corrupt(lbl, where + "byte size overflows");
    if (e.begin > e.end) return corrupt(lbl, where + "data_offsets begin > end");
    if (e.end > file->data_size_)
      return corrupt(lbl, where + "data ends at byte " + std::to_string(e.end) + " of a " +
                              std::to_string(file->data_size_) + "-byte data section (file truncated?)");
    if (e.end - e.begin != nbytes)
      return corrupt(lbl, where + "shape and dtype need " + std::to_string(nbytes) + " bytes but data_offsets span " +
                              std::to_string(e.end - e.begin));
    file->entries_.push_back(std::move(e));
  }
  std::sort(file->entries_.begin(), file->entries_.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  for (std::size_t i = 1; i < file->entries_.size(); ++i) {
    const auto& prev = file->entries_[i - 1];
    const auto& cur = file->entries_[i];
    if (cur.begin < prev.end && cur.end > cur.begin)
      return corrupt(lbl, "tensor '" + cur.name + "' overlaps tensor '" + prev.name + "'");
  }
  // The format's data area is contiguous: tensors tile it from byte 0 with no gap, and nothing
  // follows the last one (the reference reader refuses both; hidden bytes are a smuggling channel).
  std::uint64_t covered = 0;
  for (const auto& e : file->entries_) {
    if (e.begin != covered)
      return corrupt(lbl, "tensor '" + e.name + "' starts at byte " + std::to_string(e.begin) + " of the data area, but the previous tensor ends at byte " +
                              std::to_string(covered) + " (data area not contiguous)");
    covered = e.end;
  }
  if (covered != file->data_size_)
    return corrupt(lbl, "data area has " + std::to_string(file->data_size_ - covered) + " trailing bytes not covered by any tensor");
  for (std::size_t i = 0; i < file->entries_.size(); ++i) file->index_[file->entries_[i].name] = i;
  return file;
}

const TensorEntry* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

sdk::Result<at::Tensor> SafetensorsFile::tensor(const std::string& name) const {
  const TensorEntry* e = find(name);
  if (!e) return sdk::not_found(label_ + ": no tensor '" + name + "'");
  c10::ScalarType type;
  std::size_t elem = 0;
  if (!dtype_from_string(e->dtype, &type, &elem))
    return sdk::unsupported(label_ + ": tensor '" + name + "' has dtype " + e->dtype + ", which is not supported");
  const std::uint8_t* ptr = data_ + e->begin;
  auto options = at::TensorOptions().dtype(type).device(at::kCPU);
  if (e->end == e->begin) return at::empty(e->shape, options);
  if (reinterpret_cast<std::uintptr_t>(ptr) % elem != 0) {
    // Misaligned for its dtype: copy into an aligned buffer.
    at::Tensor out = at::empty(e->shape, options);
    std::memcpy(out.data_ptr(), ptr, e->end - e->begin);
    return out;
  }
  auto keep = owner_;
  return at::from_blob(const_cast<std::uint8_t*>(ptr), e->shape, [keep](void*) {}, options);
}

sdk::Result<std::map<std::string, at::Tensor>> SafetensorsFile::all_tensors() const {
  std::map<std::string, at::Tensor> out;
  for (const auto& e : entries_) {
    auto t = tensor(e.name);
    if (!t.ok()) return t.status();
    out.emplace(e.name, std::move(t).value());
  }
  return out;
}

sdk::Status write_safetensors(const std::filesystem::path& path,
                              const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> contiguous;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    const std::string dtype = dtype_to_string(t.scalar_type());
    if (dtype.empty()) return sdk::invalid_argument(path.string() + ": tensor '" + name + "' has a dtype safetensors cannot store");
    at::Tensor c = t.to(at::kCPU).contiguous();
    const std::uint64_t n = static_cast<std::uint64_t>(c.numel()) * c.element_size();
    header[name] = {{"dtype", dtype}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
    contiguous.push_back(std::move(c));
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text.push_back(' ');
  const std::filesystem::path tmp = path.string() + ".partial";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return sdk::invalid_argument(path.string() + ": cannot write (" + std::strerror(errno) + ")");
    std::uint64_t len = text.size();
    char len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<char>((len >> (8 * i)) & 0xff);
    out.write(len_bytes, 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& c : contiguous)
      out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * c.element_size()));
    if (!out) {
      out.close();
      std::filesystem::remove(tmp);
      return sdk::internal_error(path.string() + ": write failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return sdk::internal_error(path.string() + ": rename failed: " + ec.message());
  return {};
}

}  // namespace sdxl::io
