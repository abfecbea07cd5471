#include "tokenizer/sdxl_tokenizers.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace sdxl::tokenizer {

namespace fs = std::filesystem;

sdk::Result<std::int32_t> read_pad_token_id(const fs::path& dir, const BpeVocabulary& vocab, std::int32_t fallback) {
  for (const char* name : {"special_tokens_map.json", "tokenizer_config.json"}) {
    fs::path file = dir / name;
    std::ifstream in(file);
    if (!in) continue;
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return sdk::corrupt_data(file.string() + ": not a JSON object");
    if (!j.contains("pad_token") || j["pad_token"].is_null()) continue;
    const nlohmann::json& pad = j["pad_token"];
    // Either "!" or an AddedToken object {"content": "<|endoftext|>", ...}.
    const nlohmann::json& content = pad.is_object() && pad.contains("content") ? pad["content"] : pad;
    if (!content.is_string()) return sdk::corrupt_data(file.string() + ": pad_token is neither a string nor {content}");
    std::int32_t id = vocab.id(content.get<std::string>());
    if (id < 0)
      return sdk::corrupt_data(file.string() + ": pad_token \"" + content.get<std::string>() +
                               "\" is not in the vocabulary");
    return id;
  }
  return fallback;
}

sdk::Result<SdxlTokenizers> SdxlTokenizers::from_diffusers_folder(const fs::path& model_dir) {
  SdxlTokenizers t;
  const std::pair<const char*, std::int32_t> folders[2] = {{"tokenizer", kEndOfTextId}, {"tokenizer_2", 0}};
  // The refiner has only tokenizer_2 (its only text encoder is text_encoder_2); both SDXL
  // tokenizers share one vocabulary, so tokenizer 1 is then the same BPE with its own pad.
  std::error_code ec;
  const bool refiner = !fs::exists(model_dir / "tokenizer", ec) && fs::is_directory(model_dir / "tokenizer_2", ec);
  for (int k = refiner ? 1 : 0; k < 2; ++k) {
    fs::path dir = model_dir / folders[k].first;
    auto vocab = BpeVocabulary::from_tokenizer_dir(dir);
    if (!vocab.ok()) return vocab.status();
    auto shared = std::make_shared<const BpeVocabulary>(std::move(vocab).value());
    auto pad = read_pad_token_id(dir, *shared, folders[k].second);
    if (!pad.ok()) return pad.status();
    (k == 0 ? t.pad_1 : t.pad_2) = pad.value();
    (k == 0 ? t.tokenizer_1 : t.tokenizer_2) = std::make_shared<const ClipTokenizer>(shared);
  }
  if (refiner) t.tokenizer_1 = t.tokenizer_2;
  return t;
}

sdk::Result<SdxlTokenizers> SdxlTokenizers::from_clip_merges_gz(const fs::path& gz) {
  auto vocab = BpeVocabulary::from_clip_merges_gz(gz);
  if (!vocab.ok()) return vocab.status();
  auto tok = std::make_shared<const ClipTokenizer>(std::make_shared<const BpeVocabulary>(std::move(vocab).value()));
  SdxlTokenizers t;
  t.tokenizer_1 = tok;
  t.tokenizer_2 = tok;
  t.pad_2 = tok->vocabulary().id("!");
  if (t.pad_2 < 0) return sdk::corrupt_data(gz.string() + ": vocabulary has no token \"!\"");
  return t;
}

sdk::Result<SdxlTokens> SdxlTokenizers::encode(const std::string& utf8_text) const {
  if (!tokenizer_1 || !tokenizer_2) return sdk::invalid_argument("SDXL tokenizers are not loaded");
  SdxlTokens out;
  auto b1 = tokenizer_1->bpe_ids(utf8_text);
  if (!b1.ok()) return b1.status();
  out.bpe_1 = std::move(b1).value();
  if (bang_rule_2 == BangRule::kOrdinaryText && tokenizer_2 == tokenizer_1) {
    out.bpe_2 = out.bpe_1;
  } else {
    auto b2 = tokenizer_2->bpe_ids(utf8_text, bang_rule_2);
    if (!b2.ok()) return b2.status();
    out.bpe_2 = std::move(b2).value();
  }
  out.ids_1 = ClipTokenizer::frame(out.bpe_1, pad_1);
  out.ids_2 = ClipTokenizer::frame(out.bpe_2, pad_2);
  return out;
}

}  // namespace sdxl::tokenizer
