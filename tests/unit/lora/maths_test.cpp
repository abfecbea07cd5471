// Analytic checks of the LoRA maths on synthetic files, independent of the goldens: run-time
// application equals merging (conv geometry), LoKr/LoHa/Tucker against explicit index formulas,
// DoRA norms, multiplier semantics, component multipliers, the parse cache.
#include <catch2/catch.hpp>

#include <thread>

#include "io/safetensors.h"
#include "lora_test_util.h"
#include "test_paths.h"

using namespace sdxl::lora;
namespace fs = std::filesystem;

namespace {

const char* kConv = "unet.down_blocks.0.resnets.0.conv1";  // SGM: input_blocks.1.0.in_layers.2
const char* kLinear = "unet.down_blocks.1.attentions.0.proj_in";
const char* kTe = "text_encoder.text_model.encoder.layers.0.self_attn.q_proj";

WeightMap small_model() {
  at::manual_seed(7);
  WeightMap w;
  w[std::string(kConv) + ".weight"] = at::randn({6, 4, 3, 3});
  w[std::string(kConv) + ".bias"] = at::randn({6});
  w["unet.down_blocks.0.resnets.1.conv1.weight"] = at::randn({6, 6, 3, 3});
  w[std::string(kLinear) + ".weight"] = at::randn({8, 5});
  w[std::string(kTe) + ".weight"] = at::randn({5, 5});
  return w;
}

fs::path write_lora(const std::string& name, const std::vector<std::pair<std::string, at::Tensor>>& t) {
  auto dir = sdxl::test_paths::scratch_dir() / "sdxl_lora_unit";
  fs::create_directories(dir);
  auto p = dir / name;
  REQUIRE(sdxl::io::write_safetensors(p, t).ok());
  return p;
}

struct Env {
  WeightMap weights = small_model();
  WeightMap base;
  ModuleTable table;
  LoraLibrary library;
  explicit Env(CommonSettings s = {}) : table(ModuleTable::from_params(param_shapes(weights))), library(lora_test::all_formats(s)) {
    for (auto& [k, v] : weights) base[k] = v.clone();
  }
  std::shared_ptr<const LoadedLora> load(const fs::path& p) {
    auto l = library.load(p, table);
    INFO(p << ": " << (l.ok() ? "" : l.status().message()));
    REQUIRE(l.ok());
    return l.value();
  }
};

}  // namespace

TEST_CASE("LoCon conv merge equals run-time down-conv/up-conv application", "[lora][maths]") {
  Env env;
  at::manual_seed(1);
  const at::Tensor down = at::randn({3, 4, 3, 3}), up = at::randn({6, 3, 1, 1});
  auto p = write_lora("locon.safetensors", {{"lora_unet_input_blocks_1_0_in_layers_2.lora_down.weight", down.to(at::kHalf)},
                                            {"lora_unet_input_blocks_1_0_in_layers_2.lora_up.weight", up.to(at::kHalf)},
                                            {"lora_unet_input_blocks_1_0_in_layers_2.alpha", at::scalar_tensor(1.5)}});
  auto lora = env.load(p);
  CHECK(lora->format == "kohya_lora");
  MergeEngine engine(&env.weights);
  REQUIRE(engine.merge({{lora, -0.7}}).ok());
  const std::string w = std::string(kConv) + ".weight";
  const at::Tensor x = at::randn({2, 4, 9, 9});
  const double ms = -0.7 * 1.5 / 3.0;
  // y = conv(x, W) + m s up(down(x)), down with the layer's stride/padding, up a 1x1 conv
  const at::Tensor runtime = at::conv2d(x, env.base.at(w), {}, 1, 1) +
                             ms * at::conv2d(at::conv2d(x, down.to(at::kHalf).to(at::kFloat), {}, 1, 1),
                                             up.to(at::kHalf).to(at::kFloat));
  CHECK(at::allclose(at::conv2d(x, env.weights.at(w), {}, 1, 1), runtime, 1e-4, 1e-4));
  CHECK(at::equal(env.weights.at(std::string(kConv) + ".bias"), env.base.at(std::string(kConv) + ".bias")));
}

TEST_CASE("LoKr and LoHa Tucker follow their index formulas", "[lora][maths]") {
  Env env;
  at::manual_seed(2);
  // LoKr on the [8, 5] Linear: w1 [2, 5] (decomposed), w2 [4, 1] full: dW[i*4+p, j*1+q] = w1[i,j] w2[p,q]
  const at::Tensor w1a = at::randn({2, 2}), w1b = at::randn({2, 5}), w2 = at::randn({4, 1});
  // LoHa Tucker on the [6, 6, 3, 3] conv
  const at::Tensor t1 = at::randn({2, 2, 3, 3}), t2 = at::randn({2, 2, 3, 3});
  const at::Tensor a1 = at::randn({2, 6}), b1 = at::randn({2, 6}), a2 = at::randn({2, 6}), b2 = at::randn({2, 6});
  auto p = write_lora("lokr_loha.safetensors",
                      {{"lora_unet_input_blocks_4_1_proj_in.lokr_w1_a", w1a}, {"lora_unet_input_blocks_4_1_proj_in.lokr_w1_b", w1b},
                       {"lora_unet_input_blocks_4_1_proj_in.lokr_w2", w2}, {"lora_unet_input_blocks_4_1_proj_in.alpha", at::scalar_tensor(3.0)},
                       {"lora_unet_input_blocks_2_0_in_layers_2.hada_t1", t1}, {"lora_unet_input_blocks_2_0_in_layers_2.hada_t2", t2},
                       {"lora_unet_input_blocks_2_0_in_layers_2.hada_w1_a", a1}, {"lora_unet_input_blocks_2_0_in_layers_2.hada_w1_b", b1},
                       {"lora_unet_input_blocks_2_0_in_layers_2.hada_w2_a", a2}, {"lora_unet_input_blocks_2_0_in_layers_2.hada_w2_b", b2}});
  auto lora = env.load(p);
  MergeEngine engine(&env.weights);
  REQUIRE(engine.merge({{lora, 1.0}}).ok());
  const at::Tensor w1 = at::matmul(w1a, w1b);
  at::Tensor kron = at::zeros({8, 5});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 5; ++j)
      for (int q = 0; q < 4; ++q) kron[i * 4 + q][j] = w1[i][j] * w2[q][0];
  const std::string lin = std::string(kLinear) + ".weight";
  CHECK(at::allclose(env.weights.at(lin) - env.base.at(lin), kron * (3.0 / 2.0), 1e-5, 1e-5));  // s = alpha / w1_b rows

  at::Tensor p1 = at::zeros({6, 6, 3, 3}), p2 = at::zeros({6, 6, 3, 3});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      p1 += t1[i][j].view({1, 1, 3, 3}) * at::outer(a1[i], b1[j]).view({6, 6, 1, 1});
      p2 += t2[i][j].view({1, 1, 3, 3}) * at::outer(a2[i], b2[j]).view({6, 6, 1, 1});
    }
  const std::string conv = "unet.down_blocks.0.resnets.1.conv1.weight";
  CHECK(at::allclose(env.weights.at(conv) - env.base.at(conv), p1 * p2, 1e-4, 1e-4));  // no alpha: s = 1
}

TEST_CASE("DoRA: norms equal dora_scale at m = 1, m = 0 per convention", "[lora][maths][dora]") {
  at::manual_seed(3);
  const at::Tensor down = at::randn({2, 5}), up = at::randn({8, 2});
  const at::Tensor out_scale = at::rand({8, 1}) + 0.5, in_scale = at::rand({1, 5}) + 0.5;
  for (bool output_axis : {true, false}) {
    for (auto conv : {DoraConvention::interpolate, DoraConvention::lycoris}) {
      CommonSettings s;
      s.dora = conv;
      Env env(s);
      const at::Tensor scale = output_axis ? out_scale : in_scale;
      auto p = write_lora("dora.safetensors", {{"lora_unet_input_blocks_4_1_proj_in.lora_down.weight", down},
                                               {"lora_unet_input_blocks_4_1_proj_in.lora_up.weight", up},
                                               {"lora_unet_input_blocks_4_1_proj_in.alpha", at::scalar_tensor(1.0)},
                                               {"lora_unet_input_blocks_4_1_proj_in.dora_scale", scale}});
      env.library.clear_cache();
      auto lora = env.load(p);
      CHECK(lora->format == "dora");
      const std::string w = std::string(kLinear) + ".weight";
      const at::Tensor wf = env.base.at(w) + 0.5 * at::matmul(up, down);
      auto& patch = *lora->parse.patches.at(0);
      const at::Tensor at1 = patch.apply(env.base.at(w), 1.0).value();
      const at::Tensor norms = output_axis ? at1.norm(2, {1}, true) : at1.norm(2, {0}, true);
      CHECK(at::allclose(norms, scale, 1e-5, 1e-5));
      const at::Tensor at0 = patch.apply(env.base.at(w), 0.0).value();
      CHECK(at::allclose(at0, conv == DoraConvention::interpolate ? env.base.at(w) : wf, 1e-6, 1e-6));
    }
  }
}

TEST_CASE("multipliers: negative undoes positive, component multipliers, stacking sums", "[lora][maths]") {
  Env env;
  at::manual_seed(4);
  auto p = write_lora("two.safetensors", {{"lora_unet_input_blocks_4_1_proj_in.lora_down.weight", at::randn({2, 5})},
                                          {"lora_unet_input_blocks_4_1_proj_in.lora_up.weight", at::randn({8, 2})},
                                          {"lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", at::randn({2, 5})},
                                          {"lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", at::randn({5, 2})}});
  auto lora = env.load(p);
  const std::string lin = std::string(kLinear) + ".weight", te = std::string(kTe) + ".weight";
  MergeEngine engine(&env.weights);
  REQUIRE(engine.merge({{lora, 0.9}, {lora, -0.9}}).ok());
  CHECK(at::allclose(env.weights.at(lin), env.base.at(lin), 0, 1e-5));
  engine.unmerge();
  REQUIRE(engine.merge({{lora, 1.0}}, ComponentMultipliers{0.0, 2.0}).ok());
  CHECK(at::equal(env.weights.at(lin), env.base.at(lin)));
  const at::Tensor te_delta = env.weights.at(te) - env.base.at(te);
  engine.unmerge();
  REQUIRE(engine.merge({{lora, 1.0}, {lora, 1.0}}, ComponentMultipliers{1.0, 1.0}).ok());
  CHECK(at::allclose(env.weights.at(te) - env.base.at(te), te_delta, 1e-5, 1e-5));  // 1 + 1 == 2
  CHECK(engine.backup_bytes() == (8 * 5 + 5 * 5) * 4);
  engine.unmerge();
  CHECK(at::equal(env.weights.at(te), env.base.at(te)));
}

TEST_CASE("parse cache: hit on the same file, miss after it changes", "[lora][cache]") {
  Env env;
  auto tensors = std::vector<std::pair<std::string, at::Tensor>>{
      {"lora_unet_input_blocks_4_1_proj_in.lora_down.weight", at::ones({1, 5})},
      {"lora_unet_input_blocks_4_1_proj_in.lora_up.weight", at::ones({8, 1})}};
  auto p = write_lora("cached.safetensors", tensors);
  env.library.clear_cache();
  auto a = env.load(p);
  auto b = env.load(p);
  CHECK(a.get() == b.get());
  CHECK(env.library.cache_hits() == 1);
  fs::last_write_time(p, fs::last_write_time(p) + std::chrono::seconds(5));
  auto c = env.load(p);
  CHECK(c.get() != a.get());
  CHECK(env.library.cache_misses() == 2);
}

TEST_CASE("diffusers spellings resolve to the same modules", "[lora][diffusers]") {
  Env env;
  const at::Tensor d = at::randn({2, 5}), u = at::randn({8, 2});
  for (const auto& [down_key, up_key, format] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"unet.down_blocks.1.attentions.0.proj_in.lora_A.weight", "unet.down_blocks.1.attentions.0.proj_in.lora_B.weight", "peft"},
           {"down_blocks.1.attentions.0.proj_in.lora_A.weight", "down_blocks.1.attentions.0.proj_in.lora_B.weight", "peft"},
           {"unet.down_blocks.1.attentions.0.proj_in.lora.down.weight", "unet.down_blocks.1.attentions.0.proj_in.lora.up.weight",
            "diffusers_legacy"}}) {
    auto p = write_lora("diffusers.safetensors", {{down_key, d}, {up_key, u}});
    env.library.clear_cache();
    auto lora = env.load(p);
    CHECK(lora->format == format);
    REQUIRE(lora->parse.patches.size() == 1);
    CHECK(lora->parse.patches[0]->module() == kLinear);
  }
  auto te = classify_diffusers_key("text_encoder.text_model.encoder.layers.0.self_attn.to_out_lora.up.weight");
  REQUIRE(te);
  CHECK(te->group == "text_encoder.text_model.encoder.layers.0.self_attn.out_proj");
  auto un = classify_diffusers_key("unet.mid_block.attentions.0.transformer_blocks.0.attn2.processor.to_out_lora.down.weight");
  REQUIRE(un);
  CHECK(un->group == "unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0");
}
