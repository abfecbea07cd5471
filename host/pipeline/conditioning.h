#pragma once
// Prompts → SDXL conditioning: prompt_embeds [B, 77·k, W1+W2] (both encoders' penultimate hidden
// states, concatenated) and pooled [B, P] (encoder 2), for the positive and negative prompts.
//
// Two prompt modes:
//  * plain  — diffusers: the text is tokenized as is (brackets are text) and truncated to one
//             77-token window. The golden end-to-end cases use this.
//  * a1111  — A1111 semantics (prompt/emphasis.h): emphasis weights, BREAK, and prompts longer than
//             75 tokens split into 75-token chunks (a chunk that would split inside a phrase is
//             cut after the last comma when that comma is within 20 tokens of the end, as A1111's
//             default comma backtrack), each chunk framed as start + 75 + end and encoded
//             separately; the chunk outputs are concatenated along the sequence axis and the pooled
//             vector comes from the first chunk. Weights multiply each token's hidden state; then
//             each encoder's chunk output is rescaled so its mean equals the unweighted mean
//             (A1111's "Original" emphasis). Positive and negative get the same number of chunks
//             (the shorter one is padded with empty chunks), since CFG batches them together.
// Empty negative prompt + force_zeros_for_empty_prompt (SDXL base) → zero embeddings and pooled.

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "models/clip/sdxl_text_encoders.h"
#include "sdxl/sdk/status.h"
#include "tokenizer/sdxl_tokenizers.h"

namespace sdxl::pipeline {

enum class PromptMode { plain, a1111 };

struct Conditioning {
  at::Tensor prompt_embeds;    ///< [B, L, D]
  at::Tensor pooled;           ///< [B, P]
  at::Tensor negative_embeds;  ///< [B, L, D]
  at::Tensor negative_pooled;  ///< [B, P]
};

struct TokenChunk {
  std::vector<std::int32_t> bpe;  ///< ≤ 75 ids, no start/end
  std::vector<double> weights;    ///< one per id
};

/// A1111 chunking of one prompt (emphasis parsed, BREAK and comma backtrack applied).
sdk::Result<std::vector<TokenChunk>> a1111_chunks(const tokenizer::ClipTokenizer& tok, const std::string& prompt);

struct PromptInput {
  std::vector<std::string> prompts;    ///< one per image
  std::vector<std::string> negatives;  ///< one per image, or empty: no negative prompt
  PromptMode mode = PromptMode::a1111;
  bool force_zeros_for_empty_prompt = true;
};

sdk::Result<Conditioning> encode_prompts(const tokenizer::SdxlTokenizers& tokenizers,
                                         const models::clip::SdxlTextEncoders& encoders, const PromptInput& in);

}  // namespace sdxl::pipeline
