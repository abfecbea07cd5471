#pragma once
// The CLIP byte-level BPE vocabulary: 49408 token strings with their ids and the 48894 merges
// in rank order. Two sources give the same table:
//   * diffusers/transformers tokenizer folders: vocab.json (token -> id) + merges.txt
//     ("#version: 0.2" then one "first second" pair per line);
//   * OpenAI CLIP's bpe_simple_vocab_16e6.txt.gz (gzip, one header line then merges; CLIP
//     builds the vocabulary from the merges: 256 byte symbols, the same with "</w>", one
//     token per merge, then <|startoftext|> and <|endoftext|>).
// Token strings use CLIP's byte-to-unicode alphabet, UTF-8 encoded (as in vocab.json).
//
// Thread rules: immutable after loading; share freely.

#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>

#include "sdxl/sdk/status.h"

namespace sdxl::tokenizer {

class BpeVocabulary {
 public:
  /// Number of merges CLIP uses from bpe_simple_vocab_16e6 (49152 - 256 - 2).
  static constexpr int kClipMergeCount = 48894;

  /// vocab.json + merges.txt; errors name the file and line/key.
  static sdk::Result<BpeVocabulary> from_vocab_and_merges(const std::filesystem::path& vocab_json,
                                                          const std::filesystem::path& merges_txt);
  /// A tokenizer folder containing vocab.json and merges.txt.
  static sdk::Result<BpeVocabulary> from_tokenizer_dir(const std::filesystem::path& dir);
  /// OpenAI CLIP's bpe_simple_vocab_16e6.txt.gz.
  static sdk::Result<BpeVocabulary> from_clip_merges_gz(const std::filesystem::path& gz);

  /// Id of a token string, or -1.
  std::int32_t id(const std::string& token) const;
  /// Rank of the merge (first, second), or -1 when they never merge.
  std::int32_t merge_rank(const std::string& first, const std::string& second) const;
  std::size_t size() const { return token_to_id_.size(); }
  std::size_t merge_count() const { return merge_ranks_.size(); }
  /// Where it was loaded from, for messages.
  const std::string& source() const { return source_; }

 private:
  static sdk::Status check_special_tokens(const BpeVocabulary& v);
  std::unordered_map<std::string, std::int32_t> token_to_id_;
  std::unordered_map<std::string, std::int32_t> merge_ranks_;  // key: first + ' ' + second
  std::string source_;
};

/// CLIP's bytes_to_unicode(): byte -> the code point standing for it in token strings.
char32_t byte_symbol(std::uint8_t byte);

}  // namespace sdxl::tokenizer
