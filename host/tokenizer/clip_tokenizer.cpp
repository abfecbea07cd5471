#include "tokenizer/clip_tokenizer.h"

#include <limits>

#include "tokenizer/clip_text.h"
#include "tokenizer/unicode.h"

namespace sdxl::tokenizer {
namespace {

// CLIP's bpe(): start from one symbol per byte (the last with "</w>"), then repeatedly merge
// every occurrence of the lowest-ranked adjacent pair, left to right, until none is mergeable.
std::vector<std::string> byte_pair_merge(std::vector<std::string> word, const BpeVocabulary& vocab) {
  while (word.size() > 1) {
    std::int32_t best = std::numeric_limits<std::int32_t>::max();
    std::size_t best_at = 0;
    for (std::size_t i = 0; i + 1 < word.size(); ++i) {
      std::int32_t r = vocab.merge_rank(word[i], word[i + 1]);
      if (r >= 0 && r < best) {
        best = r;
        best_at = i;
      }
    }
    if (best == std::numeric_limits<std::int32_t>::max()) break;
    const std::string first = word[best_at], second = word[best_at + 1];
    std::vector<std::string> merged;
    merged.reserve(word.size());
    for (std::size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
        merged.push_back(first + second);
        i += 2;
      } else {
        merged.push_back(word[i]);
        i += 1;
      }
    }
    word = std::move(merged);
  }
  return word;
}

}  // namespace

sdk::Status ClipTokenizer::append_piece_ids(const std::u32string& piece, std::vector<std::int32_t>* out) const {
  std::string utf8 = utf8_encode(piece);
  if (piece == U"<|startoftext|>" || piece == U"<|endoftext|>") {  // CLIP's cache maps them to themselves
    out->push_back(vocab_->id(utf8));
    return sdk::Status::Ok();
  }
  std::vector<std::string> word;
  word.reserve(utf8.size());
  for (unsigned char byte : utf8) {
    std::string symbol;
    utf8_append(symbol, byte_symbol(byte));
    word.push_back(std::move(symbol));
  }
  if (word.empty()) return sdk::Status::Ok();
  word.back() += "</w>";
  for (const std::string& token : byte_pair_merge(std::move(word), *vocab_)) {
    std::int32_t id = vocab_->id(token);
    if (id < 0)
      return sdk::corrupt_data(vocab_->source() + ": BPE produced token \"" + token +
                               "\" that is not in the vocabulary");
    out->push_back(id);
  }
  return sdk::Status::Ok();
}

sdk::Result<std::vector<std::int32_t>> ClipTokenizer::bpe_ids(const std::string& utf8_text) const {
  auto decoded = utf8_decode(utf8_text);
  if (!decoded.ok()) return decoded.status();
  std::vector<std::int32_t> ids;
  for (const std::u32string& piece : pretokenize(clean_text(decoded.value()))) {
    if (auto st = append_piece_ids(piece, &ids); !st.ok()) return st;
  }
  return ids;
}

sdk::Result<std::vector<std::int32_t>> ClipTokenizer::bpe_ids_bang_split(const std::string& utf8_text) const {
  std::int32_t bang = vocab_->id("!");
  if (bang < 0) return sdk::corrupt_data(vocab_->source() + ": vocabulary has no token \"!\"");
  std::vector<std::int32_t> ids;
  std::size_t start = 0;
  for (;;) {
    std::size_t at = utf8_text.find('!', start);  // '!' is one byte and never inside a UTF-8 sequence
    auto part = bpe_ids(utf8_text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (!part.ok()) return part.status();
    ids.insert(ids.end(), part->begin(), part->end());
    if (at == std::string::npos) break;
    ids.push_back(bang);
    start = at + 1;
  }
  return ids;
}

std::vector<std::int64_t> ClipTokenizer::frame(const std::vector<std::int32_t>& bpe, std::int32_t pad) {
  std::vector<std::int64_t> ids;
  ids.reserve(kContextLength);
  ids.push_back(kStartOfTextId);
  for (std::size_t i = 0; i < bpe.size() && i < static_cast<std::size_t>(kChunkLength); ++i) ids.push_back(bpe[i]);
  ids.push_back(kEndOfTextId);
  ids.resize(kContextLength, pad);
  return ids;
}

sdk::Result<std::vector<std::int64_t>> ClipTokenizer::input_ids(const std::string& utf8_text, std::int32_t pad,
                                                                BangRule rule) const {
  auto bpe = bpe_ids(utf8_text, rule);
  if (!bpe.ok()) return bpe.status();
  return frame(bpe.value(), pad);
}

std::vector<std::vector<std::int32_t>> chunk_bpe_ids(const std::vector<std::int32_t>& bpe, std::size_t chunk) {
  if (chunk == 0) chunk = kChunkLength;
  std::vector<std::vector<std::int32_t>> chunks;
  for (std::size_t i = 0; i < bpe.size(); i += chunk) {
    std::size_t end = std::min(bpe.size(), i + chunk);
    chunks.emplace_back(bpe.begin() + static_cast<std::ptrdiff_t>(i), bpe.begin() + static_cast<std::ptrdiff_t>(end));
  }
  if (chunks.empty()) chunks.emplace_back();
  return chunks;
}

}  // namespace sdxl::tokenizer
