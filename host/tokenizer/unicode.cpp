#include "tokenizer/unicode.h"

#include <algorithm>

#include "tokenizer/unicode_tables.h"

namespace sdxl::tokenizer {
namespace {

bool in_ranges(const tables::CodeRange* ranges, std::size_t n, char32_t c) {
  // First range whose end is >= c; c is inside it when it also starts at or before c.
  const tables::CodeRange* end = ranges + n;
  const tables::CodeRange* it =
      std::lower_bound(ranges, end, c, [](const tables::CodeRange& r, char32_t v) { return r.last < v; });
  return it != end && it->first <= c;
}

char32_t lower_simple(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  const tables::LowerRun* begin = tables::kLowerRuns;
  const tables::LowerRun* end = begin + tables::kLowerRuns_size;
  const tables::LowerRun* it =
      std::lower_bound(begin, end, c, [](const tables::LowerRun& r, char32_t v) { return r.last < v; });
  if (it == end || it->first > c || (c - it->first) % static_cast<char32_t>(it->stride) != 0) return c;
  return static_cast<char32_t>(static_cast<std::int32_t>(c) + it->delta);
}

bool is_cased(char32_t c) { return in_ranges(tables::kCased, tables::kCased_size, c); }
bool is_case_ignorable(char32_t c) { return in_ranges(tables::kCaseIgnorable, tables::kCaseIgnorable_size, c); }

// CPython's rule for U+03A3 (Unicode "Final_Sigma" context):
//   \p{cased} \p{case-ignorable}* SIGMA  and NOT followed by  \p{case-ignorable}* \p{cased}
bool is_final_sigma(const std::u32string& s, std::size_t i) {
  std::size_t j = i;
  while (j > 0 && is_case_ignorable(s[j - 1])) --j;
  if (j == 0 || !is_cased(s[j - 1])) return false;
  std::size_t k = i + 1;
  while (k < s.size() && is_case_ignorable(s[k])) ++k;
  return k == s.size() || !is_cased(s[k]);
}

}  // namespace

sdk::Result<std::u32string> utf8_decode(const std::string& text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    unsigned char b = p[i];
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    auto bad = [&] {
      return sdk::invalid_argument("text is not valid UTF-8 (byte offset " + std::to_string(i) + ")");
    };
    if (len == 0 || i + len > n) return bad();
    char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return bad();
      c = (c << 6) | (p[i + k] & 0x3F);
    }
    static const char32_t kMinForLen[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < kMinForLen[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return bad();
    out.push_back(c);
    i += len;
  }
  return out;
}

void utf8_append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string utf8_encode(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) utf8_append(out, c);
  return out;
}

bool is_space(char32_t c) {
  // Python str.isspace(): bidirectional class WS, B or S, or general category Zs.
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  switch (c) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_regex_space(char32_t c) { return is_space(c) && !(c >= 0x1C && c <= 0x1F); }

bool is_letter(char32_t c) { return in_ranges(tables::kLetters, tables::kLetters_size, c); }
bool is_number(char32_t c) { return in_ranges(tables::kNumbers, tables::kNumbers_size, c); }

std::u32string to_lower(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char32_t c = text[i];
    if (c == 0x0130) {  // LATIN CAPITAL LETTER I WITH DOT ABOVE: the one multi-code-point lower case
      out.push_back(U'i');
      out.push_back(0x0307);
    } else if (c == 0x03A3) {
      out.push_back(is_final_sigma(text, i) ? 0x03C2 : 0x03C3);
    } else {
      out.push_back(lower_simple(c));
    }
  }
  return out;
}

}  // namespace sdxl::tokenizer
