#pragma once
// The two tokenizers of an SDXL checkpoint, with SDXL's padding and "!" conventions.
//
// Sources: a diffusers folder (tokenizer/ and tokenizer_2/, each vocab.json + merges.txt; the pad
// token is read from special_tokens_map.json: "<|endoftext|>" -> 49407 and "!" -> 0 in SDXL), or
// OpenAI's bpe_simple_vocab_16e6.txt.gz for single-file checkpoints (one vocabulary for both;
// pads 49407 and 0 as in SDXL).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sdxl/sdk/status.h"
#include "tokenizer/clip_tokenizer.h"

namespace sdxl::tokenizer {

/// One prompt, tokenized for both encoders.
struct SdxlTokens {
  std::vector<std::int32_t> bpe_1, bpe_2;  ///< untruncated BPE ids (differ only for "!" with kPadTokenSplit)
  std::vector<std::int64_t> ids_1, ids_2;  ///< [77] each, input of text_encoder / text_encoder_2
};

struct SdxlTokenizers {
  std::shared_ptr<const ClipTokenizer> tokenizer_1, tokenizer_2;
  std::int32_t pad_1 = kEndOfTextId;  ///< tokenizer/: <|endoftext|>
  std::int32_t pad_2 = 0;             ///< tokenizer_2/: "!"
  BangRule bang_rule_2 = BangRule::kOrdinaryText;  ///< tokenizer 1 never has the "!" rule

  /// `model_dir`/tokenizer and `model_dir`/tokenizer_2.
  static sdk::Result<SdxlTokenizers> from_diffusers_folder(const std::filesystem::path& model_dir);
  static sdk::Result<SdxlTokenizers> from_clip_merges_gz(const std::filesystem::path& gz);

  sdk::Result<SdxlTokens> encode(const std::string& utf8_text) const;
};

/// The pad token id a transformers tokenizer folder declares (special_tokens_map.json, then
/// tokenizer_config.json), or `fallback` when neither names one.
sdk::Result<std::int32_t> read_pad_token_id(const std::filesystem::path& tokenizer_dir, const BpeVocabulary& vocab,
                                            std::int32_t fallback);

}  // namespace sdxl::tokenizer
