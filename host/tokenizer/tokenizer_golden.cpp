#include "tokenizer/tokenizer_golden.h"

#include <sstream>

namespace sdxl::tokenizer {
namespace fs = std::filesystem;

bool is_tokenizer_case(const golden::GoldenCase& c) {
  const auto& m = c.manifest;
  if (c.tensors || !m.is_object() || !m.contains("prompts") || !m["prompts"].is_array()) return false;
  return !m.contains("case") || m["case"] == "tokenizer";
}

sdk::Result<SdxlTokenizers> tokenizers_for_replay(const golden::GoldenCase& c, const golden::GoldenOptions& opts) {
  for (const std::string& dir : {opts.model, opts.model_config}) {
    if (!dir.empty() && fs::is_directory(fs::path(dir) / "tokenizer")) return SdxlTokenizers::from_diffusers_folder(dir);
  }
  fs::path gz = opts.clip_vocab;
  if (gz.empty()) {
    // <golden>/models/cases/ -> <golden>/../data/clip/ (a stripped copy remembers source_dir)
    fs::path cases = c.source_dir.empty() ? c.file.parent_path() : c.source_dir;
    if (cases.filename().empty()) cases = cases.parent_path();  // "cases/" -> "cases"
    fs::path beside = fs::absolute(cases).lexically_normal().parent_path().parent_path().parent_path() / "data" /
                      "clip" / "bpe_simple_vocab_16e6.txt.gz";
    if (fs::exists(beside)) gz = beside;
  }
  if (gz.empty())
    return sdk::not_found("no tokenizer: --model/--model-config is not a diffusers folder with tokenizer/, "
                          "and no --clip-vocab bpe_simple_vocab_16e6.txt.gz was given");
  return SdxlTokenizers::from_clip_merges_gz(gz);
}

sdk::Result<nlohmann::json> replay_tokenizer_case(const nlohmann::json& manifest, const SdxlTokenizers& tokenizers) {
  if (!manifest.contains("prompts") || !manifest["prompts"].is_array())
    return sdk::invalid_argument("tokenizer case: manifest has no \"prompts\" list");
  SdxlTokenizers transformers_rule = tokenizers;
  transformers_rule.bang_rule_2 = BangRule::kPadTokenSplit;
  nlohmann::json out = {{"prompts", nlohmann::json::array()}};
  std::size_t index = 0;
  for (const auto& entry : manifest["prompts"]) {
    const nlohmann::json& p = entry.is_object() && entry.contains("prompt") ? entry["prompt"] : entry;
    if (!p.is_string())
      return sdk::invalid_argument("tokenizer case: prompts[" + std::to_string(index) + "] has no string \"prompt\"");
    const std::string prompt = p.get<std::string>();
    auto t = tokenizers.encode(prompt);
    if (!t.ok()) return sdk::Status(t.status().code(), "prompts[" + std::to_string(index) + "]: " + t.status().message());
    auto tt = transformers_rule.encode(prompt);
    if (!tt.ok()) return sdk::Status(tt.status().code(), "prompts[" + std::to_string(index) + "]: " + tt.status().message());
    out["prompts"].push_back({{"prompt", prompt},
                              {"bpe_ids", t->bpe_1},
                              {"input_ids_1", t->ids_1},
                              {"input_ids_2", t->ids_2},
                              {"input_ids_2_transformers", tt->ids_2}});
    ++index;
  }
  return out;
}

golden::CompareReport compare_tokenizer_case(const nlohmann::json& expected, const nlohmann::json& produced) {
  golden::CompareReport r;
  const nlohmann::json empty = nlohmann::json::array();
  const nlohmann::json& want = expected.contains("prompts") ? expected["prompts"] : empty;
  const nlohmann::json& got = produced.contains("prompts") ? produced["prompts"] : empty;
  std::ostringstream problems;
  int mismatches = 0;
  if (want.size() != got.size()) {
    problems << "expected " << want.size() << " prompts, got " << got.size() << "; ";
    ++mismatches;
  }
  std::size_t compared = 0;
  for (std::size_t i = 0; i < want.size() && i < got.size(); ++i) {
    if (!want[i].is_object() || !got[i].is_object()) continue;
    for (const char* key : {"bpe_ids", "input_ids_1", "input_ids_2", "input_ids_2_transformers"}) {
      bool optional = std::string(key) == "input_ids_2_transformers";
      if (!want[i].contains(key)) continue;
      if (!got[i].contains(key)) {
        if (optional) continue;
        problems << "prompts[" << i << "] has no " << key << "; ";
        ++mismatches;
        continue;
      }
      ++compared;
      if (want[i][key] != got[i][key]) {
        if (mismatches < 5) problems << "prompts[" << i << "] " << key << " differs (" << want[i].value("prompt", "") << "); ";
        ++mismatches;
      }
    }
  }
  r.passed = mismatches == 0 && compared > 0;
  std::ostringstream s;
  s << (r.passed ? "ok" : "FAILED") << ": " << compared << " id lists over " << want.size() << " prompts compared";
  if (mismatches) s << ", " << mismatches << " mismatches; " << problems.str();
  r.summary = s.str();
  return r;
}

}  // namespace sdxl::tokenizer
