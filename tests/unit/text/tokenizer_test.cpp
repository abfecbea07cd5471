// CLIP tokenizer against the golden ids (tokenizer.json, computed with OpenAI CLIP / OpenCLIP),
// from both vocabulary sources, plus framing, chunking and error handling.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tokenizer/clip_tokenizer.h"
#include "tokenizer/sdxl_tokenizers.h"
#include "test_paths.h"

namespace fs = std::filesystem;
using namespace sdxl::tokenizer;

namespace {

const fs::path kModels = sdxl::test_paths::golden_models_dir();

bool have_goldens() { return fs::exists(kModels / "cases" / "tokenizer.json"); }

nlohmann::json golden_prompts() {
  std::ifstream in(kModels / "cases" / "tokenizer.json");
  return nlohmann::json::parse(in)["prompts"];
}

template <typename T>
std::vector<std::int64_t> widen(const std::vector<T>& v) {
  return std::vector<std::int64_t>(v.begin(), v.end());
}

// Every golden prompt, both "!" rules, from one pair of tokenizers.
void check_against_golden(const SdxlTokenizers& base) {
  SdxlTokenizers transformers_rule = base;
  transformers_rule.bang_rule_2 = BangRule::kPadTokenSplit;
  for (const auto& p : golden_prompts()) {
    const std::string prompt = p["prompt"];
    INFO("prompt: " << prompt);
    auto t = base.encode(prompt);
    REQUIRE(t.ok());
    CHECK(widen(t->bpe_1) == p["bpe_ids"].get<std::vector<std::int64_t>>());
    CHECK(t->ids_1 == p["input_ids_1"].get<std::vector<std::int64_t>>());
    CHECK(t->ids_2 == p["input_ids_2"].get<std::vector<std::int64_t>>());
    auto tt = transformers_rule.encode(prompt);
    REQUIRE(tt.ok());
    CHECK(tt->ids_1 == p["input_ids_1"].get<std::vector<std::int64_t>>());
    CHECK(tt->ids_2 == p["input_ids_2_transformers"].get<std::vector<std::int64_t>>());
  }
}

}  // namespace

TEST_CASE("tokenizer matches golden ids from the diffusers tokenizer folders") {
  if (!have_goldens()) {
    WARN("skipped: no goldens at " << kModels);
    return;
  }
  auto tok = SdxlTokenizers::from_diffusers_folder(kModels / "tiny-sdxl");
  REQUIRE(tok.ok());
  CHECK(tok->pad_1 == 49407);  // from special_tokens_map.json
  CHECK(tok->pad_2 == 0);
  CHECK(tok->tokenizer_1->vocabulary().size() == 49408);
  CHECK(tok->tokenizer_1->vocabulary().merge_count() == 48894);
  check_against_golden(tok.value());
}

TEST_CASE("tokenizer matches golden ids from bpe_simple_vocab_16e6.txt.gz") {
  if (!have_goldens() || !fs::exists(sdxl::test_paths::clip_vocab())) {
    WARN("skipped: no goldens or no " << sdxl::test_paths::clip_vocab().string());
    return;
  }
  auto tok = SdxlTokenizers::from_clip_merges_gz(sdxl::test_paths::clip_vocab());
  REQUIRE(tok.ok());
  CHECK(tok->tokenizer_1->vocabulary().size() == 49408);
  CHECK(tok->pad_2 == 0);
  check_against_golden(tok.value());
}

TEST_CASE("both vocabulary sources give the same token table") {
  if (!have_goldens() || !fs::exists(sdxl::test_paths::clip_vocab())) {
    WARN("skipped: no goldens or no " << sdxl::test_paths::clip_vocab().string());
    return;
  }
  auto a = BpeVocabulary::from_tokenizer_dir(kModels / "tiny-sdxl" / "tokenizer");
  auto b = BpeVocabulary::from_clip_merges_gz(sdxl::test_paths::clip_vocab());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  for (const char* token : {"!", "a</w>", "!</w>", "<|startoftext|>", "<|endoftext|>", "i n"}) {
    CHECK(a->id(token) == b->id(token));
  }
  CHECK(a->merge_rank("i", "n") == 0);  // first merge line
  CHECK(b->merge_rank("i", "n") == 0);
  CHECK(a->merge_rank("t", "h") == b->merge_rank("t", "h"));
}

TEST_CASE("framing: start, 75 ids, end, padding") {
  std::vector<std::int32_t> bpe(80);
  for (int i = 0; i < 80; ++i) bpe[i] = 1000 + i;
  auto ids = ClipTokenizer::frame(bpe, 0);
  REQUIRE(ids.size() == 77);
  CHECK(ids.front() == 49406);
  CHECK(ids[1] == 1000);
  CHECK(ids[75] == 1074);
  CHECK(ids[76] == 49407);  // the end token survives truncation

  auto empty = ClipTokenizer::frame({}, 49407);
  CHECK(empty[0] == 49406);
  for (int i = 1; i < 77; ++i) CHECK(empty[i] == 49407);
  auto empty2 = ClipTokenizer::frame({}, 0);
  CHECK(empty2[1] == 49407);
  CHECK(empty2[2] == 0);
}

TEST_CASE("chunking splits BPE ids into 75-id windows") {
  std::vector<std::int32_t> bpe(160);
  for (int i = 0; i < 160; ++i) bpe[i] = i;
  auto chunks = chunk_bpe_ids(bpe);
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[0].size() == 75);
  CHECK(chunks[1].size() == 75);
  CHECK(chunks[2].size() == 10);
  CHECK(chunks[1].front() == 75);
  CHECK(chunks[2].back() == 159);
  CHECK(chunk_bpe_ids({}).size() == 1);
  CHECK(chunk_bpe_ids(std::vector<std::int32_t>(75, 1)).size() == 1);
}

TEST_CASE("missing or broken vocabulary files are clear errors") {
  auto missing = BpeVocabulary::from_clip_merges_gz("/nonexistent/bpe_simple_vocab_16e6.txt.gz");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == sdxl::sdk::StatusCode::not_found);
  CHECK(missing.status().message().find("/nonexistent/bpe_simple_vocab_16e6.txt.gz") != std::string::npos);

  auto no_dir = SdxlTokenizers::from_diffusers_folder("/nonexistent/model");
  REQUIRE_FALSE(no_dir.ok());
  CHECK(no_dir.status().message().find("/nonexistent/model/tokenizer") != std::string::npos);

  fs::path tmp = sdxl::test_paths::scratch_dir() / "sdxl_text_test_bad_vocab";
  fs::create_directories(tmp);
  std::ofstream(tmp / "vocab.json") << "{\"a\": \"not a number\"}";
  std::ofstream(tmp / "merges.txt") << "#version: 0.2\na b\n";
  auto bad = BpeVocabulary::from_tokenizer_dir(tmp);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == sdxl::sdk::StatusCode::corrupt_data);
  CHECK(bad.status().message().find("vocab.json") != std::string::npos);

  std::ofstream(tmp / "vocab.json") << "{\"a\": 0}";
  auto no_special = BpeVocabulary::from_tokenizer_dir(tmp);
  REQUIRE_FALSE(no_special.ok());
  CHECK(no_special.status().message().find("<|startoftext|>") != std::string::npos);
  fs::remove_all(tmp);
}

TEST_CASE("invalid UTF-8 is an error, not a crash") {
  if (!have_goldens()) {
    WARN("skipped: no goldens at " << kModels);
    return;
  }
  auto vocab = BpeVocabulary::from_tokenizer_dir(kModels / "tiny-sdxl" / "tokenizer");
  REQUIRE(vocab.ok());
  ClipTokenizer tok(std::make_shared<const BpeVocabulary>(std::move(vocab).value()));
  auto r = tok.bpe_ids(std::string("a \xC3 b"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == sdxl::sdk::StatusCode::invalid_argument);
  // Special tokens written in the prompt are recognised, as CLIP does.
  auto s = tok.bpe_ids("a <|endoftext|> b");
  REQUIRE(s.ok());
  CHECK(s.value() == std::vector<std::int32_t>{320, 49407, 321});
}
