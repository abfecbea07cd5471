// A1111 emphasis semantics. Expected weights are the A1111 rules worked by hand:
// ( ) = ×1.1, [ ] = ÷1.1, (x:w) = ×w, nesting multiplies, unbalanced brackets are text.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "prompt/emphasis.h"

using sdxl::prompt::Fragment;
using sdxl::prompt::parse_emphasis;

namespace {
void expect(const std::string& prompt, const std::vector<std::pair<std::string, double>>& want) {
  INFO("prompt: " << prompt);
  auto got = parse_emphasis(prompt);
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i].first == "BREAK") {
      CHECK(got[i].is_break);
      continue;
    }
    CHECK(got[i].text == want[i].first);
    CHECK(got[i].weight == Approx(want[i].second).epsilon(1e-12));
  }
}
}  // namespace

TEST_CASE("emphasis: basic weights", "[prompt]") {
  expect("a cat", {{"a cat", 1.0}});
  expect("a (cat)", {{"a ", 1.0}, {"cat", 1.1}});
  expect("a ((cat))", {{"a ", 1.0}, {"cat", 1.1 * 1.1}});
  expect("a [cat]", {{"a ", 1.0}, {"cat", 1.0 / 1.1}});
  expect("a (cat:1.5) dog", {{"a ", 1.0}, {"cat", 1.5}, {" dog", 1.0}});
  expect("(a (cat:0.5))", {{"a ", 1.1}, {"cat", 0.5 * 1.1}});
  expect("(cat: 1.25 )", {{"cat", 1.25}});
}

TEST_CASE("emphasis: escapes and unbalanced brackets are text", "[prompt]") {
  expect(R"(a \(cat\))", {{"a (cat)", 1.0}});
  expect("a cat)", {{"a cat)", 1.0}});
  expect("a cat]", {{"a cat]", 1.0}});
  expect("a (cat", {{"a ", 1.0}, {"cat", 1.1}});     // an unclosed ( weights the rest
  expect("[a (cat", {{"a ", 1.0 / 1.1}, {"cat", 1.1 / 1.1}});
  expect("time 10:30", {{"time 10:30", 1.0}});
  expect("(ratio:wide)", {{"ratio:wide", 1.1}});
  expect("", {{"", 1.0}});
}

TEST_CASE("emphasis: BREAK splits, only as a word of its own", "[prompt]") {
  expect("a cat BREAK a dog", {{"a cat", 1.0}, {"BREAK", 1.0}, {"a dog", 1.0}});
  expect("BREAKFAST", {{"BREAKFAST", 1.0}});
  expect("a break b", {{"a break b", 1.0}});
}

TEST_CASE("lora tags are extracted from the prompt", "[prompt]") {
  std::vector<sdxl::prompt::LoraTag> tags;
  auto rest = sdxl::prompt::extract_lora_tags("a cat <lora:pixel:0.8> on a mat <lora:style:0.5:1.2><lora:plain>", tags);
  CHECK(rest == "a cat  on a mat ");
  REQUIRE(tags.size() == 3);
  CHECK(tags[0].name == "pixel");
  CHECK(tags[0].unet_weight == Approx(0.8));
  CHECK(tags[0].text_encoder_weight == Approx(0.8));
  CHECK(tags[1].text_encoder_weight == Approx(0.5));
  CHECK(tags[1].unet_weight == Approx(1.2));
  CHECK(tags[2].unet_weight == Approx(1.0));
}
