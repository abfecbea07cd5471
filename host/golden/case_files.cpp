#include "golden/case_files.h"

#include <ATen/ATen.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>

namespace sdxl::golden {

namespace fs = std::filesystem;

namespace {

sdk::Result<nlohmann::json> read_json(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return sdk::not_found("cannot open " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::json::parse(ss.str());
  } catch (const std::exception& e) {
    return sdk::corrupt_data(p.string() + ": invalid JSON: " + e.what());
  }
}

sdk::Status write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  if (!out) return sdk::not_found("cannot write " + p.string());
  out << text;
  return out ? sdk::Status::Ok() : sdk::internal_error("write failed: " + p.string());
}

bool has_prefix(const std::set<std::string>& allowed, const std::string& prefix) {
  auto it = allowed.lower_bound(prefix);
  return it != allowed.end() && it->compare(0, prefix.size(), prefix) == 0;
}

nlohmann::json filter_at(const nlohmann::json& node, const std::set<std::string>& allowed, const std::string& path);

nlohmann::json filter_value(const nlohmann::json& v, const std::set<std::string>& allowed, const std::string& path) {
  if (v.is_object() && has_prefix(allowed, path + ".")) return filter_at(v, allowed, path + ".");
  if (v.is_array() && has_prefix(allowed, path + "[].")) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : v) arr.push_back(e.is_object() ? filter_at(e, allowed, path + "[].") : nlohmann::json());
    return arr;
  }
  return nlohmann::json();  // discarded
}

nlohmann::json filter_at(const nlohmann::json& node, const std::set<std::string>& allowed, const std::string& prefix) {
  nlohmann::json out = nlohmann::json::object();
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string path = prefix + it.key();
    if (allowed.count(path)) {
      out[it.key()] = it.value();
    } else {
      auto sub = filter_value(it.value(), allowed, path);
      if (!sub.is_null()) out[it.key()] = std::move(sub);
    }
  }
  return out;
}

}  // namespace

std::string case_name(const GoldenCase& c) {
  if (c.manifest.is_object() && c.manifest.contains("name") && c.manifest["name"].is_string())
    return c.manifest["name"].get<std::string>();
  return c.file.stem().string();
}

sdk::Result<GoldenCase> load_case(const fs::path& file) {
  GoldenCase c;
  c.file = file;
  c.source_dir = file.parent_path();
  if (file.extension() == ".json") {
    auto j = read_json(file);
    if (!j.ok()) return j.status();
    c.manifest = std::move(j.value());
    return c;
  }
  auto st = io::SafetensorsFile::open(file);
  if (!st.ok()) return st.status();
  c.tensors = st.value();
  fs::path sidecar = file;
  sidecar.replace_extension(".json");
  if (fs::exists(sidecar)) {
    auto j = read_json(sidecar);
    if (!j.ok()) return j.status();
    c.manifest = std::move(j.value());
  } else if (auto it = c.tensors->metadata().find("manifest"); it != c.tensors->metadata().end()) {
    try {
      c.manifest = nlohmann::json::parse(it->second);
    } catch (const std::exception& e) {
      return sdk::corrupt_data(file.string() + ": __metadata__.manifest is not JSON: " + e.what());
    }
  }
  return c;
}

std::vector<fs::path> list_case_files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    const auto& p = e.path();
    if (p.extension() == ".safetensors") {
      out.push_back(p);
    } else if (p.extension() == ".json") {
      fs::path twin = p;
      twin.replace_extension(".safetensors");
      if (!fs::exists(twin)) out.push_back(p);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json filter_manifest(const nlohmann::json& manifest, const std::set<std::string>& allowed) {
  if (!manifest.is_object()) return manifest;
  return filter_at(manifest, allowed, "");
}

sdk::Result<GoldenCase> strip_case(const GoldenCase& c, const std::set<std::string>& manifest_keys,
                                   const std::set<std::string>& tensor_names, const fs::path& dir) {
  const auto stripped = filter_manifest(c.manifest, manifest_keys);
  fs::path target = dir / c.file.filename();
  if (!c.tensors) {
    if (auto st = write_text(target, stripped.dump(1)); !st.ok()) return st;
  } else {
    std::vector<std::pair<std::string, at::Tensor>> keep;
    for (const auto& e : c.tensors->entries()) {
      if (!tensor_names.count(e.name)) continue;
      auto t = c.tensors->tensor(e.name);
      if (!t.ok()) return t.status();
      keep.emplace_back(e.name, t.value());
    }
    std::map<std::string, std::string> meta;
    for (const auto& [k, v] : c.tensors->metadata())
      if (k == "format" || k == "format_version") meta[k] = v;
    meta["manifest"] = stripped.dump();
    if (auto st = io::write_safetensors(target, keep, meta); !st.ok()) return st;
    fs::path sidecar = target;
    sidecar.replace_extension(".json");
    if (auto st = write_text(sidecar, stripped.dump(1)); !st.ok()) return st;
  }
  auto loaded = load_case(target);
  if (!loaded.ok()) return loaded.status();
  loaded.value().source_dir = c.source_dir;
  return loaded;
}

sdk::Status write_result(const fs::path& out, const GoldenCase& c, const TensorList& produced,
                         const nlohmann::json& json_out) {
  // JSON-only results (the tokenizer case) asked for as RESULT.json are written as plain JSON.
  if (produced.empty() && !json_out.is_null() && out.extension() == ".json") {
    std::ofstream f(out, std::ios::trunc);
    f << json_out.dump(1) << "\n";
    return f ? sdk::Status() : sdk::internal_error(out.string() + ": cannot write");
  }
  std::map<std::string, std::string> meta{{"format", "sdxl-golden-result"}, {"case", case_name(c)}};
  if (!json_out.is_null()) meta["json"] = json_out.dump();
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, t] : produced) tensors.emplace_back(name, t.detach().cpu().contiguous());
  return io::write_safetensors(out, tensors, meta);
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  path_ = fs::temp_directory_path() /
          ("sdxl-golden-" + std::to_string(::getpid()) + "-" + std::to_string(stamp) + "-" + std::to_string(counter++));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::set<std::string> manifest_tensors_with_role(const nlohmann::json& manifest, const std::string& role) {
  std::set<std::string> out;
  if (!manifest.is_object()) return out;
  const auto table = manifest.value("tensors", nlohmann::json::object());
  if (!table.is_object()) return out;
  for (const auto& [name, info] : table.items())
    if (info.is_object() && info.value("role", std::string()) == role) out.insert(name);
  return out;
}

}  // namespace sdxl::golden
