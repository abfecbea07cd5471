// Text clean-up and pre-tokeniser corner cases beyond the golden prompts. Expected pieces were
// computed with Python 3.11 and the `regex` package running CLIP's own basic_clean,
// whitespace_clean, str.lower() and findall pattern.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tokenizer/clip_text.h"
#include "tokenizer/unicode.h"

using namespace sdxl::tokenizer;

namespace {

struct Case {
  std::u32string text;
  std::vector<std::u32string> pieces;
};

const Case kCases[] = {
    // Final sigma: before a non-cased character, not before "'" + cased letter.
    {U"\U000003A3\U00000391\U000003A3 \U00000391\U000003A3. \U000003A3 \U00000391\U000003A3'\U000003A3",
     {U"\U000003C3\U000003B1\U000003C2", U"\U000003B1\U000003C2", U".", U"\U000003C3", U"\U000003B1\U000003C3", U"'",
      U"\U000003C2"}},
    // html.unescape twice: "&amp;amp;" -> "&"; numeric references; NBSP collapses like a space.
    {U"x&amp;amp;y &lt;3 &#65;&#x42; &nbsp;z", {U"x", U"&", U"y", U"<", U"3", U"ab", U"z"}},
    // Contractions (long s case-folds to s), and "'" runs that are not contractions.
    {U"it'\U0000017F ok '' 'RE'Ve", {U"it", U"'\U0000017F", U"ok", U"''", U"'re", U"'ve"}},
    // Title-case letters lower-case; letter numbers, fractions, other scripts' digits, superscripts
    // are \p{N}: one token each.
    {U"\U000001C5 \U000001C4 \U00002177 \U000000BD \U00000663 x\U000000B2",
     {U"\U000001C6", U"\U000001C6", U"\U00002177", U"\U000000BD", U"\U00000663", U"x", U"\U000000B2"}},
    // Special-token text is only special at the start of a match.
    {U"a!<|endoftext|>b", {U"a", U"!<|", U"endoftext", U"|>", U"b"}},
    // U+001C..U+001F are stripped at the ends (str.strip) but not collapsed inside (regex \s);
    // U+200B is not whitespace at all.
    {U"\U0000001C \U00001680a\U00003000b\U0000001Cc\U0000200Bd\U00000009\U0000001F",
     {U"a", U"b", U"\U0000001C", U"c", U"\U0000200B", U"d"}},
};

// Catch cannot print char32_t strings: compare their UTF-8 forms.
std::vector<std::string> utf8_all(const std::vector<std::u32string>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(utf8_encode(s));
  return out;
}

}  // namespace

TEST_CASE("clean_text + pretokenize reproduce CLIP on corner cases") {
  for (const Case& c : kCases) {
    INFO("text: " << utf8_encode(c.text));
    CHECK(utf8_all(pretokenize(clean_text(c.text))) == utf8_all(c.pieces));
  }
}

TEST_CASE("UTF-8 round trip and rejection of malformed sequences") {
  const std::string s = "a\xC3\xA9\xE6\x9D\xB1\xF0\x9F\x90\xB1";  // a é 東 🐱
  auto d = utf8_decode(s);
  REQUIRE(d.ok());
  CHECK((d.value() == std::u32string{U'a', 0xE9, 0x6771, 0x1F431}));
  CHECK(utf8_encode(d.value()) == s);
  CHECK_FALSE(utf8_decode("\xC0\xAF").ok());          // overlong "/"
  CHECK_FALSE(utf8_decode("\xED\xA0\x80").ok());      // surrogate
  CHECK_FALSE(utf8_decode("\xF0\x9F\x90").ok());      // truncated
  CHECK_FALSE(utf8_decode("\x80").ok());              // stray continuation byte
  CHECK_FALSE(utf8_decode("\xF4\x90\x80\x80").ok());  // above U+10FFFF
}

TEST_CASE("lower-casing follows Python str.lower") {
  // U+0130 is the only code point whose lower case is two code points.
  CHECK(utf8_encode(to_lower(U"\U00000130X")) == "i\xCC\x87x");
  CHECK(utf8_encode(to_lower(U"\U000003A3")) == "\xCF\x83");  // a lone capital sigma is not final
  CHECK(utf8_encode(to_lower(U"ABC\U000000C9\U00000410\U0001E900")) == utf8_encode(U"abc\U000000E9\U00000430\U0001E922"));
}
