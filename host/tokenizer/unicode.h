#pragma once
// The small part of Unicode the CLIP tokenizer depends on, reproducing Python's behaviour:
// UTF-8 <-> code points, str.isspace(), \p{L} / \p{N} as the `regex` module sees them, and
// str.lower() (full mapping, including U+0130 -> "i\u0307" and the final-sigma rule).

#include <string>

#include "sdxl/sdk/status.h"

namespace sdxl::tokenizer {

/// Decodes UTF-8; invalid or truncated sequences, surrogates and overlong forms are an error
/// naming the byte offset.
sdk::Result<std::u32string> utf8_decode(const std::string& text);
std::string utf8_encode(const std::u32string& text);
/// Appends one code point as UTF-8.
void utf8_append(std::string& out, char32_t c);

/// Python's str.isspace() (what str.strip() removes).
bool is_space(char32_t c);
/// What `\s` matches in the `regex` module CLIP imports as `re` (the White_Space property):
/// str.isspace() minus the separators U+001C..U+001F.
bool is_regex_space(char32_t c);
/// \p{L}
bool is_letter(char32_t c);
/// \p{N}
bool is_number(char32_t c);

/// Python's str.lower().
std::u32string to_lower(const std::u32string& text);

}  // namespace sdxl::tokenizer
