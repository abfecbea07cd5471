#pragma once
// CLIP BPE tokenizer as used by SDXL's two text encoders.
//
//   bpe_ids(text)   clean_text -> pretokenize -> per piece: UTF-8 bytes -> byte symbols, "</w>"
//                   on the last one, merges by rank -> ids. No start/end token, not truncated.
//   frame(ids, pad) [49406] + first 75 ids + [49407], padded to 77 with `pad`.
//
// SDXL pads tokenizer 1 with 49407 (<|endoftext|>) and tokenizer 2 with 0 ("!").
// The "!" rule: transformers' CLIPTokenizer (diffusers' tokenizer_2) treats its pad token "!" as
// a special token, so every "!" becomes id 0 and the text between is tokenized piece by piece.
// OpenCLIP and the original SDXL code (what SDXL was trained with) tokenize "!" as ordinary
// text. BangRule picks one; the default is the original behaviour.
//
// Thread rules: const methods are thread-safe (no cache).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sdxl/sdk/status.h"
#include "tokenizer/bpe_vocabulary.h"

namespace sdxl::tokenizer {

enum class BangRule {
  kOrdinaryText,    ///< OpenCLIP / SGM: "!" is ordinary text ("!!" -> 748)
  kPadTokenSplit,   ///< transformers with pad_token "!": each "!" -> the pad token's id, text split there
};

constexpr std::int32_t kStartOfTextId = 49406;
constexpr std::int32_t kEndOfTextId = 49407;
constexpr int kContextLength = 77;
constexpr int kChunkLength = 75;  ///< BPE ids per 77-token window (77 minus start and end)

class ClipTokenizer {
 public:
  explicit ClipTokenizer(std::shared_ptr<const BpeVocabulary> vocab) : vocab_(std::move(vocab)) {}

  /// Untruncated BPE ids of `utf8_text` without start/end tokens. Fails on invalid UTF-8.
  sdk::Result<std::vector<std::int32_t>> bpe_ids(const std::string& utf8_text) const;
  /// The transformers "!" variant: "!" -> id of token "!", the rest tokenized piecewise.
  sdk::Result<std::vector<std::int32_t>> bpe_ids_bang_split(const std::string& utf8_text) const;
  sdk::Result<std::vector<std::int32_t>> bpe_ids(const std::string& utf8_text, BangRule rule) const {
    return rule == BangRule::kOrdinaryText ? bpe_ids(utf8_text) : bpe_ids_bang_split(utf8_text);
  }

  /// 77 ids: start, the first 75 BPE ids, end, `pad` to the end.
  static std::vector<std::int64_t> frame(const std::vector<std::int32_t>& bpe, std::int32_t pad);

  /// bpe_ids + frame.
  sdk::Result<std::vector<std::int64_t>> input_ids(const std::string& utf8_text, std::int32_t pad,
                                                   BangRule rule = BangRule::kOrdinaryText) const;

  const BpeVocabulary& vocabulary() const { return *vocab_; }

 private:
  sdk::Status append_piece_ids(const std::u32string& piece, std::vector<std::int32_t>* out) const;
  std::shared_ptr<const BpeVocabulary> vocab_;
};

/// Splits BPE ids (no start/end tokens) into consecutive chunks of at most `chunk` ids, for
/// prompts longer than one 77-token window. An empty input gives one empty chunk, so every
/// prompt encodes to at least one window.
std::vector<std::vector<std::int32_t>> chunk_bpe_ids(const std::vector<std::int32_t>& bpe,
                                                     std::size_t chunk = kChunkLength);

}  // namespace sdxl::tokenizer
