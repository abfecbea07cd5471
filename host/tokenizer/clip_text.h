#pragma once
// CLIP's text clean-up and pre-tokeniser, reproduced from OpenAI CLIP's simple_tokenizer
// (which OpenCLIP and SGM share):
//
//   basic_clean:      html.unescape(html.unescape(text)).strip()     (ftfy.fix_text is not run,
//                     see docs/text-encoders.md)
//   whitespace_clean: re.sub(r"\s+", " ", text).strip()    (re is the `regex` module: its \s
//                     lacks U+001C..U+001F, which str.strip() does remove)
//   then str.lower(), then findall with
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//   (case-insensitive): letter runs, single digits, runs of everything else; spaces separate.

#include <string>
#include <vector>

namespace sdxl::tokenizer {

/// Python html.unescape for numeric references and the common named ones (amp, lt, gt, quot,
/// apos, nbsp); other named references are left as they are.
std::u32string html_unescape(const std::u32string& text);

/// basic_clean + whitespace_clean + lower(): the exact text the pre-tokeniser sees.
std::u32string clean_text(const std::u32string& text);

/// Splits cleaned text into the pieces the regex above finds, in order.
std::vector<std::u32string> pretokenize(const std::u32string& cleaned);

}  // namespace sdxl::tokenizer
