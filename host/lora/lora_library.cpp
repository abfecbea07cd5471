#include "lora/lora_library.h"

#include <algorithm>
#include <chrono>
#include <sstream>

namespace sdxl::lora {

std::string DetectionReport::summary() const {
  std::ostringstream os;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (i) os << "; ";
    os << answers[i].first << " (" << answers[i].second.confidence << "): " << answers[i].second.reason;
  }
  return os.str();
}

sdk::Result<std::shared_ptr<LoraSource>> open_lora_source(const std::filesystem::path& path) {
  auto file = io::SafetensorsFile::open(path);
  if (!file.ok()) return file.status();
  auto tensors = file.value()->all_tensors();
  if (!tensors.ok()) return tensors.status();
  auto src = std::make_shared<LoraSource>();
  src->path = path;
  src->file = file.value();
  src->tensors = std::move(tensors).value();
  return src;
}

DetectionReport LoraLibrary::detect(const sdk::LoraFile& file) const {
  DetectionReport r;
  for (const auto& f : formats_) {
    sdk::LoraDetection d;
    try {
      d = f.format->detect(file);
    } catch (const std::exception& e) {  // detect() returns no Status; a throwing plugin is just "not mine"
      d.confidence = 0;
      d.reason = std::string("detect failed: ") + e.what();
    }
    r.answers.emplace_back(f.name, d);
  }
  std::stable_sort(r.answers.begin(), r.answers.end(),
                   [](const auto& a, const auto& b) { return a.second.confidence > b.second.confidence; });
  return r;
}

sdk::Result<std::shared_ptr<const LoadedLora>> LoraLibrary::load(const std::filesystem::path& path,
                                                                 const ModuleTable& modules, const std::string& format) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  const auto mtime = std::filesystem::last_write_time(path, ec);
  if (ec) return sdk::not_found(path.string() + ": " + ec.message());
  const std::int64_t mtime_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count();
  const std::string key = std::filesystem::absolute(path).lexically_normal().string();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.mtime_ns == mtime_ns && it->second.size == size &&
        it->second.fingerprint == modules.fingerprint() && it->second.format == format) {
      ++hits_;
      return it->second.lora;
    }
    ++misses_;
  }
  auto src = open_lora_source(path);
  if (!src.ok()) return src.status();
  const sdk::LoraFile view = src.value()->view();

  const NamedFormat* chosen = nullptr;
  sdk::LoraDetection detection;
  if (!format.empty()) {
    for (const auto& f : formats_)
      if (f.name == format) chosen = &f;
    if (!chosen) return sdk::not_found(path.string() + ": no lora_format '" + format + "' is loaded");
    detection = chosen->format->detect(view);
  } else {
    const DetectionReport report = detect(view);
    if (!report.recognised())
      return sdk::unsupported(path.string() + ": no LoRA format recognises this file (" + report.summary() + ")");
    for (const auto& f : formats_)
      if (f.name == report.answers.front().first) chosen = &f;
    detection = report.answers.front().second;
  }
  auto parsed = chosen->format->parse(view, modules);
  if (!parsed.ok()) return parsed.status();
  auto lora = std::make_shared<LoadedLora>();
  lora->source = src.value();
  lora->format = chosen->name;
  lora->detection = detection;
  lora->parse = std::move(parsed).value();
  for (const auto& p : lora->parse.patches)
    if (!p) return sdk::internal_error(path.string() + ": format " + chosen->name + " returned a null patch");
  // Low-rank factors (runtime mode, fast merge) from formats that offer the extension.
  const auto* access =
      static_cast<const sdk::LowRankAccess*>(chosen->format->extension(SDXL_LORA_LOW_RANK_EXTENSION));
  lora->low_rank.resize(lora->parse.patches.size());
  if (access)
    for (std::size_t i = 0; i < lora->parse.patches.size(); ++i) lora->low_rank[i] = access->low_rank(*lora->parse.patches[i]);

  std::lock_guard<std::mutex> lock(mutex_);
  cache_[key] = CacheEntry{mtime_ns, size, modules.fingerprint(), format, lora};
  return std::shared_ptr<const LoadedLora>(lora);
}

void LoraLibrary::clear_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  cache_.clear();
}

}  // namespace sdxl::lora
