// Prompt conditioning on the demo model (byte-level tokenizer: one token per character, so token
// counts are known by construction): A1111 chunking, BREAK, comma backtrack, weights and the
// mean-restoring rescale, equal chunk counts for CFG, zero negatives.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "models/demo/demo_model.h"
#include "pipeline/conditioning.h"
#include "test_paths.h"

namespace fs = std::filesystem;
using namespace sdxl;

namespace {
struct Demo {
  tokenizer::SdxlTokenizers tok;
  std::optional<models::clip::SdxlTextEncoders> enc;
};
const Demo& demo() {
  static Demo d = [] {
    Demo x;
    auto dir = models::demo::ensure_demo_model(sdxl::test_paths::scratch_dir() / "sdxl_conditioning_test");
    REQUIRE(dir.ok());
    auto t = tokenizer::SdxlTokenizers::from_diffusers_folder(dir.value());
    REQUIRE(t.ok());
    x.tok = t.value();
    auto e = models::clip::SdxlTextEncoders::load(dir.value(), {}, at::TensorOptions().dtype(at::kFloat));
    REQUIRE(e.ok());
    x.enc.emplace(std::move(e).value());
    return x;
  }();
  return d;
}
}  // namespace

TEST_CASE("a1111 chunks: 75-token windows, BREAK, weights", "[conditioning]") {
  const auto& tok = *demo().tok.tokenizer_1;
  auto long_word = pipeline::a1111_chunks(tok, std::string(80, 'a'));
  REQUIRE(long_word.ok());
  REQUIRE(long_word.value().size() == 2);
  CHECK(long_word.value()[0].bpe.size() == 75);
  CHECK(long_word.value()[1].bpe.size() == 5);

  auto brk = pipeline::a1111_chunks(tok, "ab BREAK cd");
  REQUIRE(brk.ok());
  REQUIRE(brk.value().size() == 2);
  CHECK(brk.value()[0].bpe.size() == 2);
  CHECK(brk.value()[1].bpe.size() == 2);

  auto weighted = pipeline::a1111_chunks(tok, "x (ab:1.5) [c]");
  REQUIRE(weighted.ok());
  const auto& w = weighted.value()[0].weights;
  REQUIRE(w.size() == 4);
  CHECK(w[0] == Approx(1.0));
  CHECK(w[1] == Approx(1.5));
  CHECK(w[2] == Approx(1.5));
  CHECK(w[3] == Approx(1 / 1.1));
}

TEST_CASE("a1111 chunks: a comma near the end moves the tail to the next chunk", "[conditioning]") {
  const auto& tok = *demo().tok.tokenizer_1;
  // 70 letters, a comma (token 71), then a 10-letter word: the window fills at 75 inside the
  // word, the comma is 4 tokens before the end -> cut after it.
  auto r = pipeline::a1111_chunks(tok, std::string(70, 'a') + ", " + std::string(10, 'b'));
  REQUIRE(r.ok());
  REQUIRE(r.value().size() == 2);
  CHECK(r.value()[0].bpe.size() == 71);
  CHECK(r.value()[1].bpe.size() == 10);
  // Without a comma within 20 tokens of the end, the window is simply cut at 75.
  auto far = pipeline::a1111_chunks(tok, std::string(40, 'a') + ", " + std::string(60, 'b'));
  REQUIRE(far.ok());
  CHECK(far.value()[0].bpe.size() == 75);
}

TEST_CASE("conditioning: plain equals a1111 without weights, long prompts, zero negatives", "[conditioning]") {
  const auto& d = demo();
  pipeline::PromptInput in;
  in.prompts = {"a quiet harbour"};
  in.mode = pipeline::PromptMode::plain;
  auto plain = pipeline::encode_prompts(d.tok, *d.enc, in);
  in.mode = pipeline::PromptMode::a1111;
  auto a1111 = pipeline::encode_prompts(d.tok, *d.enc, in);
  REQUIRE(plain.ok());
  REQUIRE(a1111.ok());
  CHECK(at::equal(plain.value().prompt_embeds, a1111.value().prompt_embeds));
  CHECK(at::equal(plain.value().pooled, a1111.value().pooled));
  CHECK(at::count_nonzero(a1111.value().negative_embeds).item<std::int64_t>() == 0);  // force_zeros
  CHECK(at::count_nonzero(a1111.value().negative_pooled).item<std::int64_t>() == 0);

  in.prompts = {std::string(75, 'z') + " " + std::string(25, 'y')};
  in.negatives = {"blurry"};
  auto two = pipeline::encode_prompts(d.tok, *d.enc, in);
  REQUIRE(two.ok());
  CHECK(two.value().prompt_embeds.sizes() == at::IntArrayRef({1, 154, 64}));
  CHECK(two.value().negative_embeds.sizes() == at::IntArrayRef({1, 154, 64}));  // padded to match
  // The pooled vector comes from the first chunk alone.
  in.prompts = {std::string(75, 'z')};
  in.negatives.clear();
  auto first = pipeline::encode_prompts(d.tok, *d.enc, in);
  REQUIRE(first.ok());
  CHECK(at::allclose(first.value().pooled, two.value().pooled));
}

TEST_CASE("conditioning: weights scale tokens and keep each encoder's mean", "[conditioning]") {
  const auto& d = demo();
  pipeline::PromptInput in;
  in.prompts = {"(red:1.4) fox"};
  auto weighted = pipeline::encode_prompts(d.tok, *d.enc, in);
  in.prompts = {"red fox"};
  auto plain = pipeline::encode_prompts(d.tok, *d.enc, in);
  REQUIRE(weighted.ok());
  REQUIRE(plain.ok());
  at::Tensor zw = weighted.value().prompt_embeds[0], zp = plain.value().prompt_embeds[0];
  for (auto [a, b] : {std::pair<int, int>{0, 32}, {32, 64}}) {
    CHECK(zw.slice(1, a, b).mean().item<double>() == Approx(zp.slice(1, a, b).mean().item<double>()).margin(1e-6));
  }
  // Token 1 ('r' of red) is scaled by 1.4 relative to token 5 ('f' of fox) before the common rescale.
  const double ratio_w = (zw[1].slice(0, 0, 32) / zp[1].slice(0, 0, 32)).mean().item<double>();
  const double ratio_u = (zw[5].slice(0, 0, 32) / zp[5].slice(0, 0, 32)).mean().item<double>();
  CHECK(ratio_w / ratio_u == Approx(1.4).epsilon(1e-4));
}
