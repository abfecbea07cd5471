// CLIP text encoders against the golden outputs of text_encoders.safetensors (computed with
// OpenAI CLIP / OpenCLIP / transformers), from the diffusers folder and the fp16 single file,
// plus the golden replay functions and bad-input handling.
#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include "io/safetensors.h"
#include "models/clip/clip_text_encoder.h"
#include "models/clip/sdxl_text_encoders.h"
#include "models/clip/text_encoders_golden.h"
#include "tokenizer/tokenizer_golden.h"
#include "test_paths.h"

namespace fs = std::filesystem;
using namespace sdxl;
using namespace sdxl::models::clip;

namespace {

const fs::path kModels = sdxl::test_paths::golden_models_dir();
const fs::path kCase = kModels / "cases" / "text_encoders.safetensors";

bool have_goldens() { return fs::exists(kCase) && fs::exists(kModels / "tiny-sdxl" / "text_encoder"); }

std::shared_ptr<io::SafetensorsFile> open_or_fail(const fs::path& p) {
  auto f = io::SafetensorsFile::open(p);
  REQUIRE(f.ok());
  return f.value();
}

at::Tensor expected(const std::string& name) {
  static auto file = open_or_fail(kCase);
  auto t = file->tensor(name);
  REQUIRE(t.ok());
  return t.value();
}

// Diffusers folder component read directly (weights + config.json).
ClipTextEncoder load_component(const std::string& component) {
  auto weights = open_or_fail(kModels / "tiny-sdxl" / component / "model.safetensors")->all_tensors();
  REQUIRE(weights.ok());
  std::ifstream in(kModels / "tiny-sdxl" / component / "config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  auto enc = ClipTextEncoder::create(weights.value(), &config, at::TensorOptions().dtype(at::kFloat));
  REQUIRE(enc.ok());
  return std::move(enc).value();
}

void check_close(const at::Tensor& got, const at::Tensor& want, const std::string& what) {
  INFO(what << ": got " << got.sizes() << ", want " << want.sizes());
  REQUIRE(got.sizes() == want.sizes());
  double err = (got.to(at::kDouble) - want.to(at::kDouble)).abs().max().item<double>();
  INFO(what << " max abs err " << err);
  CHECK(at::allclose(got.to(at::kFloat), want.to(at::kFloat), /*rtol=*/1e-4, /*atol=*/1e-4));
}

golden::GoldenCase text_case() {
  golden::GoldenCase c;
  c.file = kCase;
  std::ifstream in(kModels / "cases" / "text_encoders.json");
  c.manifest = nlohmann::json::parse(in);
  c.tensors = open_or_fail(kCase);
  return c;
}

}  // namespace

TEST_CASE("config inferred from weights and config.json") {
  if (!have_goldens()) {
    WARN("skipped: no goldens at " << kModels);
    return;
  }
  ClipTextEncoder te1 = load_component("text_encoder");
  ClipTextEncoder te2 = load_component("text_encoder_2");
  CHECK(te1.config().hidden == 32);
  CHECK(te1.config().layers == 4);
  CHECK(te1.config().heads == 4);  // from config.json: 32 is not a multiple of 64
  CHECK(te1.config().intermediate == 37);
  CHECK(te1.config().activation == ClipActivation::kQuickGelu);
  CHECK(te1.config().projection_dim == 0);
  CHECK(te2.config().intermediate == 64);
  CHECK(te2.config().activation == ClipActivation::kGelu);
  CHECK(te2.config().projection_dim == 32);
  CHECK(te2.config().eos_token_id == 49407);  // not config.json's placeholder 2
}

TEST_CASE("text encoder 1 matches golden hidden states (diffusers folder)") {
  if (!have_goldens()) {
    WARN("skipped: no goldens at " << kModels);
    return;
  }
  ClipTextEncoder te1 = load_component("text_encoder");
  ClipForwardOptions o;
  o.keep_hidden_states = true;
  auto out = te1.forward(expected("ids1"), o);
  REQUIRE(out.ok());
  check_close(out->penultimate, expected("te1.penultimate"), "te1.penultimate");
  check_close(out->last_hidden_state, expected("te1.last_hidden_state"), "te1.last_hidden_state");
  check_close(at::stack(out->hidden_states, 0), expected("te1.hidden_states"), "te1.hidden_states");
  CHECK_FALSE(out->pooled.defined());

  // Penultimate-only mode skips the last layer and gives the same tensor.
  ClipForwardOptions fast;
  fast.run_last_layer = false;
  auto quick = te1.forward(expected("ids1"), fast);
  REQUIRE(quick.ok());
  check_close(quick->penultimate, expected("te1.penultimate"), "te1.penultimate (last layer skipped)");
  CHECK_FALSE(quick->last_hidden_state.defined());
}

TEST_CASE("text encoder 2 matches golden hidden states and pooled output (diffusers folder)") {
  if (!have_goldens()) {
    WARN("skipped: no goldens at " << kModels);
    return;
  }
  ClipTextEncoder te2 = load_component("text_encoder_2");
  ClipForwardOptions o;
  o.keep_hidden_states = true;
  auto out = te2.forward(expected("ids2"), o);
  REQUIRE(out.ok());
  check_close(out->penultimate, expected("te2.penultimate"), "te2.penultimate");
  check_close(out->last_hidden_state, expected("te2.last_hidden_state"), "te2.last_hidden_state");
  check_close(at::stack(out->hidden_states, 0), expected("te2.hidden_states"), "te2.hidden_states");
  check_close(out->pooled, expected("te2.pooled"), "te2.pooled");
}

TEST_CASE("SDXL conditioning from the diffusers folder and from the fp16 single file") {
  if (!have_goldens()) {
    WARN("skipped: no goldens at " << kModels);
    return;
  }
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  struct Source {
    fs::path model, config;
  };
  for (const Source& s : {Source{kModels / "tiny-sdxl", ""},
                          Source{kModels / "tiny-sdxl-fp16.safetensors", kModels / "tiny-sdxl"}}) {
    INFO("model " << s.model);
    auto enc = SdxlTextEncoders::load(s.model, s.config, f32);
    INFO((enc.ok() ? "" : enc.status().message()));
    REQUIRE(enc.ok());
    CHECK(enc->te1().config().heads == 4);
    auto emb = enc->encode(expected("ids1"), expected("ids2"));
    REQUIRE(emb.ok());
    check_close(emb->prompt_embeds, expected("prompt_embeds"), "prompt_embeds");
    check_close(emb->pooled, expected("te2.pooled"), "pooled");
  }
}

TEST_CASE("golden replay of text_encoders reproduces every output") {
  if (!have_goldens()) {
    WARN("skipped: no goldens at " << kModels);
    return;
  }
  golden::GoldenCase c = text_case();
  CHECK(is_text_encoder_case(c.manifest));
  CHECK(text_case_inputs(c.manifest) == std::set<std::string>{"ids1", "ids2"});
  for (const char* model : {"tiny-sdxl", "tiny-sdxl-fp16.safetensors"}) {
    golden::GoldenOptions opts;
    opts.model = (kModels / model).string();
    opts.model_config = (kModels / "tiny-sdxl").string();
    auto produced = replay_text_encoders_case(c, opts);
    INFO((produced.ok() ? "" : produced.status().message()));
    REQUIRE(produced.ok());
    std::set<std::string> names;
    for (const auto& [name, t] : produced.value()) names.insert(name);
    CHECK(names.count("prompt_embeds"));
    CHECK(names.count("te2.pooled"));
    auto report = compare_tensor_case(c, produced.value());
    INFO(report.summary);
    CHECK(report.passed);
  }
}

TEST_CASE("golden comparison fails on a perturbed output") {
  if (!have_goldens()) {
    WARN("skipped: no goldens at " << kModels);
    return;
  }
  golden::GoldenCase c = text_case();
  golden::GoldenOptions opts;
  opts.model = (kModels / "tiny-sdxl").string();
  auto produced = replay_text_encoders_case(c, opts);
  REQUIRE(produced.ok());
  auto bad = produced.value();
  for (auto& [name, t] : bad)
    if (name == "te2.pooled") t = t + 1e-3;
  auto report = compare_tensor_case(c, bad);
  CHECK_FALSE(report.passed);
  CHECK(report.summary.find("te2.pooled") != std::string::npos);
  bad.erase(bad.begin());
  CHECK_FALSE(compare_tensor_case(c, bad).passed);  // a missing output fails too
}

TEST_CASE("golden replay of tokenizer.json") {
  fs::path file = kModels / "cases" / "tokenizer.json";
  if (!fs::exists(file)) {
    WARN("skipped: no goldens at " << kModels);
    return;
  }
  golden::GoldenCase c;
  c.file = file;
  std::ifstream in(file);
  c.manifest = nlohmann::json::parse(in);
  CHECK(tokenizer::is_tokenizer_case(c));
  for (const golden::GoldenOptions& opts :
       {golden::GoldenOptions{(kModels / "tiny-sdxl").string(), "", "", "", ""},
        golden::GoldenOptions{(kModels / "tiny-sdxl-fp16.safetensors").string(), "", "", "", sdxl::test_paths::clip_vocab().string()}}) {
    if (!opts.clip_vocab.empty() && !fs::exists(opts.clip_vocab)) continue;
    auto tok = tokenizer::tokenizers_for_replay(c, opts);
    REQUIRE(tok.ok());
    // Replay sees only the prompts, never the expected ids.
    nlohmann::json stripped = {{"prompts", nlohmann::json::array()}};
    for (const auto& p : c.manifest["prompts"]) stripped["prompts"].push_back({{"prompt", p["prompt"]}});
    auto result = tokenizer::replay_tokenizer_case(stripped, tok.value());
    REQUIRE(result.ok());
    auto report = tokenizer::compare_tokenizer_case(c.manifest, result.value());
    INFO(report.summary);
    CHECK(report.passed);
    // A wrong id is caught.
    nlohmann::json broken = result.value();
    broken["prompts"][0]["input_ids_2"][1] = 1;
    CHECK_FALSE(tokenizer::compare_tokenizer_case(c.manifest, broken).passed);
  }
}

TEST_CASE("text encoder rejects bad weights and bad ids with clear errors") {
  if (!have_goldens()) {
    WARN("skipped: no goldens at " << kModels);
    return;
  }
  auto weights = open_or_fail(kModels / "tiny-sdxl" / "text_encoder" / "model.safetensors")->all_tensors();
  REQUIRE(weights.ok());
  auto missing = weights.value();
  missing.erase("text_model.encoder.layers.2.mlp.fc2.bias");
  auto r = ClipTextEncoder::create(missing, nullptr, at::TensorOptions().dtype(at::kFloat));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("layers.2.mlp.fc2.bias") != std::string::npos);

  // Without config.json the tiny width 32 has no SDXL head convention (64-channel heads).
  auto no_cfg = ClipTextEncoder::create(weights.value(), nullptr, at::TensorOptions().dtype(at::kFloat));
  REQUIRE_FALSE(no_cfg.ok());
  CHECK(no_cfg.status().message().find("head") != std::string::npos);

  nlohmann::json wrong = {{"hidden_size", 64}, {"num_attention_heads", 4}};
  auto mismatch = ClipTextEncoder::create(weights.value(), &wrong, at::TensorOptions().dtype(at::kFloat));
  REQUIRE_FALSE(mismatch.ok());
  CHECK(mismatch.status().message().find("hidden_size") != std::string::npos);

  ClipTextEncoder te1 = load_component("text_encoder");
  auto too_big = te1.forward(at::full({1, 77}, 49408, at::kLong));
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.status().code() == sdk::StatusCode::invalid_argument);
  CHECK_FALSE(te1.forward(at::zeros({1, 78}, at::kLong)).ok());
  CHECK_FALSE(te1.forward(at::zeros({77}, at::kLong)).ok());
  CHECK_FALSE(te1.forward(at::zeros({1, 77}, at::kFloat)).ok());
}
