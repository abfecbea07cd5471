#include "tokenizer/bpe_vocabulary.h"

#include <zlib.h>

#include <array>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "tokenizer/unicode.h"

namespace sdxl::tokenizer {
namespace {

namespace fs = std::filesystem;

const std::array<char32_t, 256>& byte_symbol_table() {
  // Printable Latin-1 bytes stand for themselves; the 68 others get 256, 257, ... in byte order,
  // so that no token string contains whitespace or control characters.
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

// CLIP's vocabulary order: printable bytes in byte order first, then the remapped ones.
std::vector<std::uint8_t> clip_byte_order() {
  std::vector<std::uint8_t> order;
  for (int pass = 0; pass < 2; ++pass) {
    for (int b = 0; b < 256; ++b) {
      bool remapped = byte_symbol(static_cast<std::uint8_t>(b)) >= 256;
      if (remapped == (pass == 1)) order.push_back(static_cast<std::uint8_t>(b));
    }
  }
  return order;
}

sdk::Result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return sdk::not_found("cannot open tokenizer file " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return sdk::corrupt_data("error reading " + path.string());
  return ss.str();
}

sdk::Result<std::string> read_gzip(const fs::path& path) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(path.c_str(), "rb"), gzclose);
  if (!gz) return sdk::not_found("cannot open CLIP vocabulary " + path.string());
  std::string out;
  std::vector<char> buf(1 << 16);
  for (;;) {
    int n = gzread(gz.get(), buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int err = 0;
      const char* msg = gzerror(gz.get(), &err);
      return sdk::corrupt_data("cannot decompress " + path.string() + ": " + (msg ? msg : "zlib error"));
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    std::size_t end = nl == std::string::npos ? text.size() : nl;
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return lines;
}

// "first second" -> (first, second); false when the line is not exactly two fields.
bool split_merge(const std::string& line, std::string* first, std::string* second) {
  std::size_t sp = line.find(' ');
  if (sp == std::string::npos || sp == 0 || sp + 1 >= line.size() || line.find(' ', sp + 1) != std::string::npos)
    return false;
  *first = line.substr(0, sp);
  *second = line.substr(sp + 1);
  return true;
}

}  // namespace

char32_t byte_symbol(std::uint8_t byte) { return byte_symbol_table()[byte]; }

sdk::Status BpeVocabulary::check_special_tokens(const BpeVocabulary& v) {
  for (const char* special : {"<|startoftext|>", "<|endoftext|>"}) {
    if (v.id(special) < 0) return sdk::corrupt_data(v.source_ + ": vocabulary has no token " + special);
  }
  return sdk::Status::Ok();
}

sdk::Result<BpeVocabulary> BpeVocabulary::from_vocab_and_merges(const fs::path& vocab_json,
                                                                const fs::path& merges_txt) {
  BpeVocabulary v;
  v.source_ = vocab_json.parent_path().string();
  auto vocab_text = read_file(vocab_json);
  if (!vocab_text.ok()) return vocab_text.status();
  nlohmann::json vocab = nlohmann::json::parse(vocab_text.value(), nullptr, /*allow_exceptions=*/false);
  if (!vocab.is_object()) return sdk::corrupt_data(vocab_json.string() + ": not a JSON object of token -> id");
  v.token_to_id_.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() > INT32_MAX)
      return sdk::corrupt_data(vocab_json.string() + ": token \"" + token + "\" has no valid integer id");
    v.token_to_id_.emplace(token, id.get<std::int32_t>());
  }

  auto merges_text = read_file(merges_txt);
  if (!merges_text.ok()) return merges_text.status();
  std::vector<std::string> lines = split_lines(merges_text.value());
  std::int32_t rank = 0;
  std::size_t first_line = (!lines.empty() && lines[0].rfind("#version", 0) == 0) ? 1 : 0;
  for (std::size_t i = first_line; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::string a, b;
    if (!split_merge(lines[i], &a, &b))
      return sdk::corrupt_data(merges_txt.string() + ":" + std::to_string(i + 1) + ": expected \"first second\"");
    // Rank = position among the merges; a repeated pair keeps its last rank (Python dict).
    v.merge_ranks_[a + ' ' + b] = rank++;
  }
  if (auto st = check_special_tokens(v); !st.ok()) return st;
  return v;
}

sdk::Result<BpeVocabulary> BpeVocabulary::from_tokenizer_dir(const fs::path& dir) {
  if (!fs::is_directory(dir)) return sdk::not_found("tokenizer folder " + dir.string() + " does not exist");
  return from_vocab_and_merges(dir / "vocab.json", dir / "merges.txt");
}

sdk::Result<BpeVocabulary> BpeVocabulary::from_clip_merges_gz(const fs::path& gz) {
  auto text = read_gzip(gz);
  if (!text.ok()) return text.status();
  std::vector<std::string> lines = split_lines(text.value());
  // Line 0 is a version header; CLIP keeps lines 1 .. 48894.
  if (lines.size() < static_cast<std::size_t>(kClipMergeCount) + 1)
    return sdk::corrupt_data(gz.string() + ": has " + std::to_string(lines.size()) + " lines, expected at least " +
                             std::to_string(kClipMergeCount + 1));
  BpeVocabulary v;
  v.source_ = gz.string();
  // Ids are list positions; a repeated string keeps its last position, as Python's dict(zip()).
  std::int32_t next_id = 0;
  auto add_token = [&v, &next_id](std::string token) { v.token_to_id_[std::move(token)] = next_id++; };
  std::vector<std::uint8_t> order = clip_byte_order();
  for (std::uint8_t b : order) {
    std::string s;
    utf8_append(s, byte_symbol(b));
    add_token(s);
  }
  for (std::uint8_t b : order) {
    std::string s;
    utf8_append(s, byte_symbol(b));
    add_token(s + "</w>");
  }
  for (int i = 1; i <= kClipMergeCount; ++i) {
    std::string a, b;
    if (!split_merge(lines[i], &a, &b))
      return sdk::corrupt_data(gz.string() + ":" + std::to_string(i + 1) + ": expected \"first second\"");
    v.merge_ranks_[a + ' ' + b] = i - 1;
    add_token(a + b);
  }
  add_token("<|startoftext|>");
  add_token("<|endoftext|>");
  if (auto st = check_special_tokens(v); !st.ok()) return st;
  return v;
}

std::int32_t BpeVocabulary::id(const std::string& token) const {
  auto it = token_to_id_.find(token);
  return it == token_to_id_.end() ? -1 : it->second;
}

std::int32_t BpeVocabulary::merge_rank(const std::string& first, const std::string& second) const {
  auto it = merge_ranks_.find(first + ' ' + second);
  return it == merge_ranks_.end() ? -1 : it->second;
}

}  // namespace sdxl::tokenizer
