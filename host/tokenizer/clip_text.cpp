#include "tokenizer/clip_text.h"

#include <cstdint>

#include "tokenizer/unicode.h"

namespace sdxl::tokenizer {
namespace {

const std::u32string kStartOfText = U"<|startoftext|>";
const std::u32string kEndOfText = U"<|endoftext|>";

bool starts_with_at(const std::u32string& s, std::size_t i, const std::u32string& prefix) {
  return s.compare(i, prefix.size(), prefix) == 0;
}

bool is_hex(char32_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Python's html._replace_charref for a numeric reference: invalid values become U+FFFD.
// (Python also maps 0x80-0x9F through windows-1252 and drops a few non-characters; those
// never occur in real prompts and are not reproduced.)
char32_t numeric_reference_value(std::uint64_t v) {
  if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0xFFFD;
  return static_cast<char32_t>(v);
}

struct NamedReference {
  const char32_t* name;
  char32_t value;
  bool needs_semicolon;  // HTML5 accepts these legacy names without ";" too, except apos
};
const NamedReference kNamed[] = {
    {U"amp", U'&', false}, {U"lt", U'<', false},     {U"gt", U'>', false},
    {U"quot", U'"', false}, {U"apos", U'\'', true}, {U"nbsp", 0xA0, false},
};

// Length of the contraction ('s 't 're 've 'm 'll 'd) starting at i, or 0. The pattern is
// case-insensitive; after lower() the only non-lower-case match left is U+017F (long s),
// which case-folds to "s".
std::size_t contraction_length(const std::u32string& s, std::size_t i) {
  if (s[i] != U'\'' || i + 1 >= s.size()) return 0;
  char32_t a = s[i + 1];
  char32_t b = i + 2 < s.size() ? s[i + 2] : 0;
  if (a == U's' || a == 0x017F || a == U't' || a == U'm' || a == U'd') return 2;
  if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) return 3;
  return 0;
}

}  // namespace

std::u32string html_unescape(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] != U'&') {
      out.push_back(text[i++]);
      continue;
    }
    std::size_t j = i + 1;
    if (j < text.size() && text[j] == U'#') {
      bool hex = j + 1 < text.size() && (text[j + 1] == U'x' || text[j + 1] == U'X');
      std::size_t k = j + (hex ? 2 : 1);
      std::uint64_t v = 0;
      std::size_t digits = 0;
      for (; k < text.size() && (hex ? is_hex(text[k]) : (text[k] >= '0' && text[k] <= '9')); ++k, ++digits) {
        char32_t c = text[k];
        int d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
        if (v <= 0x10FFFF) v = v * (hex ? 16 : 10) + d;  // saturates far above the valid range
      }
      if (digits == 0) {
        out.push_back(text[i++]);
        continue;
      }
      if (k < text.size() && text[k] == U';') ++k;
      out.push_back(numeric_reference_value(v));
      i = k;
      continue;
    }
    bool replaced = false;
    for (const auto& ref : kNamed) {
      std::u32string name(ref.name);
      if (!starts_with_at(text, j, name)) continue;
      std::size_t k = j + name.size();
      bool semicolon = k < text.size() && text[k] == U';';
      if (!semicolon && ref.needs_semicolon) continue;
      out.push_back(ref.value);
      i = k + (semicolon ? 1 : 0);
      replaced = true;
      break;
    }
    if (!replaced) out.push_back(text[i++]);
  }
  return out;
}

std::u32string clean_text(const std::u32string& text) {
  // basic_clean's strip() and whitespace_clean's strip() remove str.isspace() characters, but
  // the \s+ collapse in between uses the regex module's \s, which excludes U+001C..U+001F: such a
  // separator inside the text survives and later becomes a token of its own.
  auto strip = [](const std::u32string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && is_space(s[b])) ++b;
    while (e > b && is_space(s[e - 1])) --e;
    return s.substr(b, e - b);
  };
  std::u32string stripped = strip(html_unescape(html_unescape(text)));
  std::u32string collapsed;
  collapsed.reserve(stripped.size());
  for (std::size_t i = 0; i < stripped.size();) {
    if (!is_regex_space(stripped[i])) {
      collapsed.push_back(stripped[i++]);
      continue;
    }
    collapsed.push_back(U' ');
    while (i < stripped.size() && is_regex_space(stripped[i])) ++i;
  }
  return to_lower(strip(collapsed));
}

std::vector<std::u32string> pretokenize(const std::u32string& s) {
  std::vector<std::u32string> pieces;
  std::size_t i = 0;
  auto other = [](char32_t c) { return !is_regex_space(c) && !is_letter(c) && !is_number(c); };
  while (i < s.size()) {
    // Alternatives are tried in the pattern's order at each position.
    std::size_t len = 0;
    if (starts_with_at(s, i, kStartOfText)) {
      len = kStartOfText.size();
    } else if (starts_with_at(s, i, kEndOfText)) {
      len = kEndOfText.size();
    } else if (std::size_t c = contraction_length(s, i); c != 0) {
      len = c;
    } else if (is_letter(s[i])) {
      while (i + len < s.size() && is_letter(s[i + len])) ++len;
    } else if (is_number(s[i])) {
      len = 1;
    } else if (other(s[i])) {
      while (i + len < s.size() && other(s[i + len])) ++len;
    } else {
      ++i;  // \s: no alternative matches here
      continue;
    }
    pieces.push_back(s.substr(i, len));
    i += len;
  }
  return pieces;
}

}  // namespace sdxl::tokenizer
