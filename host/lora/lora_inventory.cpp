#include "lora/lora_inventory.h"

#include <algorithm>
#include <sstream>

namespace sdxl::lora {
namespace {

bool ends_with(const std::string& s, const std::string& t) {
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// The component a key targets, from its prefix (kohya or diffusers spelling).
std::string target_of(const std::string& key) {
  if (key.rfind("lora_unet_", 0) == 0 || key.rfind("unet.", 0) == 0) return "unet";
  if (key.rfind("lora_te2_", 0) == 0 || key.rfind("text_encoder_2.", 0) == 0) return "text_encoder_2";
  if (key.rfind("lora_te1_", 0) == 0 || key.rfind("lora_te_", 0) == 0 || key.rfind("text_encoder.", 0) == 0)
    return "text_encoder";
  return "other";
}

// One tensor per group whose first dimension is the group's rank (nullopt: not such a tensor).
bool is_rank_factor(const std::string& key) {
  for (const char* t : {"lora_down.weight", "lora_A.weight", ".down.weight", "hada_w1_b"})
    if (ends_with(key, t)) return true;
  return false;
}
bool is_group_marker(const std::string& key) {
  if (is_rank_factor(key)) return true;
  for (const char* t : {".lokr_w1", ".lokr_w1_a", ".diff"})
    if (ends_with(key, t)) return true;
  return false;
}

std::string meta(const std::map<std::string, std::string>& m, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (auto it = m.find(k); it != m.end() && !it->second.empty()) return it->second;
  return {};
}

// Trigger words: modelspec.trigger_phrase, else the five most frequent training tags.
std::vector<std::string> trigger_words(const std::map<std::string, std::string>& m) {
  if (auto p = meta(m, {"modelspec.trigger_phrase", "ss_trigger_words"}); !p.empty()) return {p};
  std::vector<std::string> out;
  auto it = m.find("ss_tag_frequency");
  if (it == m.end()) return out;
  try {
    std::map<std::string, long> counts;
    for (const auto& [dataset, tags] : nlohmann::json::parse(it->second).items())
      for (const auto& [tag, n] : tags.items()) counts[tag] += n.get<long>();
    std::vector<std::pair<std::string, long>> sorted(counts.begin(), counts.end());
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    for (std::size_t i = 0; i < sorted.size() && i < 5; ++i) out.push_back(sorted[i].first);
  } catch (const std::exception&) {  // malformed metadata is not worth failing a listing for
  }
  return out;
}

}  // namespace

InventoryEntry describe(const LoraSource& src, const LoraLibrary& library) {
  InventoryEntry e;
  e.path = src.path.string();
  e.tensors = src.tensors.size();
  const DetectionReport report = library.detect(src.view());
  e.recognised = report.recognised();
  if (!report.answers.empty()) {
    e.format = e.recognised ? report.answers.front().first : "";
    e.confidence = report.answers.front().second.confidence;
  }
  e.reason = e.recognised ? report.answers.front().second.reason : "no LoRA format recognises it: " + report.summary();
  std::map<std::int64_t, std::size_t> ranks;
  for (const auto& [key, t] : src.tensors) {
    if (is_group_marker(key)) ++e.modules_per_target[target_of(key)];
    if (is_rank_factor(key) && t.dim() >= 1) ++ranks[t.size(0)];
  }
  std::size_t best = 0;
  for (const auto& [r, n] : ranks)
    if (n > best) best = n, e.rank = r;
  const auto& m = src.file->metadata();
  e.title = meta(m, {"modelspec.title", "ss_output_name"});
  e.base_model = meta(m, {"ss_base_model_version", "modelspec.architecture", "ss_sd_model_name"});
  try {
    if (auto args = meta(m, {"ss_network_args"}); !args.empty()) {
      auto j = nlohmann::json::parse(args);
      if (j.is_object() && j.contains("algo") && j["algo"].is_string()) e.algorithm = j["algo"].get<std::string>();
    }
  } catch (const std::exception&) {
  }
  if (e.algorithm.empty()) e.algorithm = meta(m, {"ss_network_module"});
  e.trigger_words = trigger_words(m);
  return e;
}

sdk::Result<std::vector<InventoryEntry>> inventory(const std::filesystem::path& root, const LoraLibrary& library) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_regular_file(root, ec)) {
    files.push_back(root);
  } else if (fs::is_directory(root, ec)) {
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file(ec) && it->path().extension() == ".safetensors") files.push_back(it->path());
  } else {
    return sdk::not_found(root.string() + ": no such file or folder");
  }
  std::sort(files.begin(), files.end());
  std::vector<InventoryEntry> out;
  for (const auto& f : files) {
    auto src = open_lora_source(f);
    if (!src.ok()) {
      InventoryEntry e;
      e.path = f.string();
      e.reason = src.status().message();
      e.bytes = fs::file_size(f, ec);
      out.push_back(e);
      continue;
    }
    InventoryEntry e = describe(*src.value(), library);
    e.bytes = fs::file_size(f, ec);
    out.push_back(std::move(e));
  }
  return out;
}

nlohmann::json to_json(const InventoryEntry& e) {
  nlohmann::json j = {{"path", e.path},         {"bytes", e.bytes},   {"recognised", e.recognised},
                      {"format", e.format},     {"confidence", e.confidence}, {"reason", e.reason},
                      {"tensors", e.tensors},   {"modules", e.modules_per_target}, {"rank", e.rank},
                      {"title", e.title},       {"base_model", e.base_model}, {"algorithm", e.algorithm},
                      {"trigger_words", e.trigger_words}};
  return j;
}

std::string to_text(const InventoryEntry& e) {
  std::ostringstream os;
  if (!e.recognised) {
    os << e.path << "\n  unrecognised: " << e.reason << "\n";
    return os.str();
  }
  os << e.path << "\n  format " << e.format << " (confidence " << e.confidence << "), rank " << e.rank << ", targets";
  for (const auto& [t, n] : e.modules_per_target) os << " " << t << ":" << n;
  os << "\n";
  if (!e.title.empty()) os << "  title " << e.title << "\n";
  if (!e.base_model.empty()) os << "  base model " << e.base_model << "\n";
  if (!e.algorithm.empty()) os << "  algorithm " << e.algorithm << "\n";
  if (!e.trigger_words.empty()) {
    os << "  trigger words";
    for (const auto& w : e.trigger_words) os << " \"" << w << "\"";
    os << "\n";
  }
  os << "  " << e.reason << "\n";
  return os.str();
}

}  // namespace sdxl::lora
