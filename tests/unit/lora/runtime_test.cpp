// Runtime (unmerged) LoRA mode: the base weights are never written, and every patched layer's
// output equals what the merged weights give (lora/runtime_engine.h).
//  * layer level: every patched module of the tiny golden model, each format family (plain and
//    Tucker low rank, LoHa, LoKr, full with diff_b, DoRA), against a merge of the same file;
//  * network level: the tiny UNet and both CLIP encoders run forward in merge mode and in runtime
//    mode (kohya LoRA, LoHa, and both stacked) and agree within float32 tolerance;
//  * the low-rank extension's factors reproduce the plugins' own merge maths.
#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include <algorithm>
#include <set>

#include "lora/runtime_engine.h"
#include "lora_test_util.h"
#include "models/clip/clip_text_encoder.h"
#include "models/common/layers.h"
#include "models/unet/unet_model.h"
#include "pipeline/lora_stack.h"

using namespace sdxl;
using namespace sdxl::lora;

namespace {

WeightMap clone_all(const WeightMap& w) {
  WeightMap out;
  for (const auto& [k, v] : w) out[k] = v.clone();
  return out;
}

bool all_equal(const WeightMap& a, const WeightMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, v] : a)
    if (!at::equal(v, b.at(k))) return false;
  return true;
}

std::shared_ptr<const LoadedLora> load(LoraLibrary& lib, const ModuleTable& table, const std::string& name) {
  auto l = lib.load(lora_test::lora_golden_dir() / "loras" / (name + ".safetensors"), table);
  INFO(name << ": " << (l.ok() ? "" : l.status().message()));
  REQUIRE(l.ok());
  return l.value();
}

// max |a - b| relative to max |b| (outputs differ only by float32 rounding of W + dW vs W x + dW x).
double relative_error(const at::Tensor& a, const at::Tensor& b) {
  const double scale = std::max(b.abs().max().item<double>(), 1e-6);
  return (a - b).abs().max().item<double>() / scale;
}

}  // namespace

TEST_CASE("runtime adapters equal merged weights on every patched layer, base untouched", "[lora][runtime]") {
  if (!lora_test::have_goldens()) {
    WARN("goldens not found at " << lora_test::lora_golden_dir() << ": skipped");
    return;
  }
  at::manual_seed(7);
  for (const std::string name : {"kohya_lora", "kohya_locon", "lycoris_locon_ext", "lycoris_loha", "lycoris_loha_tucker",
                                 "lycoris_lokr", "lycoris_full", "lycoris_dora", "diffusers_peft"}) {
    INFO(name);
    WeightMap base = lora_test::tiny_model(at::kFloat);
    const WeightMap pristine = clone_all(base);
    WeightMap merged = clone_all(base);
    LoraLibrary lib(lora_test::all_formats());
    const ModuleTable table = ModuleTable::from_params(param_shapes(base));
    auto lora = load(lib, table, name);

    MergeEngine merge(&merged);
    REQUIRE(merge.merge({{lora, 0.8}}).ok());
    RuntimeEngine runtime(&base, [](const std::string&) { return true; });
    auto st = runtime.attach({{lora, {0.8, 0.8}}});
    INFO((st.ok() ? "" : st.status().message()));
    REQUIRE(st.ok());
    CHECK(st.value().modules > 0);
    CHECK(all_equal(base, pristine));  // nothing written

    std::set<std::string> modules;
    for (const auto& p : lora->parse.patches) modules.insert(p->module());
    for (const auto& m : modules) {
      INFO(m);
      const at::Tensor& w = base.at(m + ".weight");
      const at::Tensor bias = base.count(m + ".bias") ? base.at(m + ".bias") : at::Tensor();
      const at::Tensor merged_bias = bias.defined() ? merged.at(m + ".bias") : at::Tensor();
      REQUIRE(models::layer_adapter(w) != nullptr);
      at::Tensor got, want;
      if (w.dim() == 2) {
        const at::Tensor x = at::randn({3, 5, w.size(1)});
        got = models::Linear{w, bias}(x);
        want = models::Linear{merged.at(m + ".weight"), merged_bias}(x);
      } else {
        const std::int64_t pad = w.size(2) / 2;
        const at::Tensor x = at::randn({2, w.size(1), 9, 9});
        for (std::int64_t stride : {1, 2}) {  // the adapter follows the layer's stride and padding
          models::Conv2d c{w, bias, stride, pad};
          got = c(x);
          want = models::Conv2d{merged.at(m + ".weight"), merged_bias, stride, pad}(x);
          CHECK(relative_error(got, want) < 2e-5);
        }
      }
      CHECK(relative_error(got, want) < 2e-5);
    }
    runtime.detach();
    for (const auto& m : modules) CHECK(models::layer_adapter(base.at(m + ".weight")) == nullptr);
    CHECK(all_equal(base, pristine));
  }
  CHECK(models::layer_adapter_count() == 0);
}

TEST_CASE("runtime mode refuses layers it cannot adapt and keeps the previous set", "[lora][runtime]") {
  if (!lora_test::have_goldens()) {
    WARN("goldens not found: skipped");
    return;
  }
  WeightMap base = lora_test::tiny_model(at::kFloat);
  LoraLibrary lib(lora_test::all_formats());
  const ModuleTable table = ModuleTable::from_params(param_shapes(base));
  auto kohya = load(lib, table, "kohya_lora");
  auto loha = load(lib, table, "lycoris_loha");
  // Only the UNet is adaptable here: the LoHa also patches the text encoders.
  RuntimeEngine runtime(&base, [](const std::string& p) { return p.rfind("unet.", 0) == 0; });
  RuntimeEngine all(&base, [](const std::string&) { return true; });
  REQUIRE(all.attach({{kohya, {1.0, 1.0}}}).ok());
  const std::size_t attached = models::layer_adapter_count();
  auto st = runtime.attach({{loha, {1.0, 1.0}}});
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(st.status().message(), Catch::Contains("runtime LoRA mode cannot patch 'text_encoder"));
  CHECK(models::layer_adapter_count() == attached);
  all.detach();
  CHECK(models::layer_adapter_count() == 0);

  CHECK(pipeline::runtime_adaptable("unet.down_blocks.1.attentions.0.proj_in.weight"));
  CHECK(pipeline::runtime_adaptable("text_encoder_2.text_model.encoder.layers.3.mlp.fc2.weight"));
  CHECK_FALSE(pipeline::runtime_adaptable("text_encoder.text_model.embeddings.token_embedding.weight"));
  CHECK_FALSE(pipeline::runtime_adaptable("text_encoder_2.text_projection.weight"));
  CHECK(pipeline::parse_lora_mode("runtime").value() == pipeline::LoraMode::runtime);
  CHECK_FALSE(pipeline::parse_lora_mode("unmerged").ok());
}

TEST_CASE("tiny UNet and CLIP encoders: runtime mode output equals merge mode output", "[lora][runtime]") {
  if (!lora_test::have_goldens()) {
    WARN("goldens not found: skipped");
    return;
  }
  const auto config = lora_test::read_json(lora_test::lora_golden_dir() / "base" / "config.json");
  const WeightMap files = lora_test::tiny_model(at::kFloat);
  std::map<std::string, std::map<std::string, at::Tensor>> parts;
  for (const auto& [k, v] : files) {
    const auto dot = k.find('.');
    parts[k.substr(0, dot)][k.substr(dot + 1)] = v;
  }
  auto ucfg = models::UNetConfig::from_diffusers_json(config["unet"], "golden config.json");
  REQUIRE(ucfg.ok());
  auto unet = models::UNet2DConditionModel::load(parts["unet"], ucfg.value(), "golden unet", at::kFloat, at::kCPU);
  REQUIRE(unet.ok());
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  const nlohmann::json te1_config = config["text_encoder"], te2_config = config["text_encoder_2"];
  auto te1 = models::clip::ClipTextEncoder::create(parts["text_encoder"], &te1_config, opts);
  auto te2 = models::clip::ClipTextEncoder::create(parts["text_encoder_2"], &te2_config, opts);
  INFO((te1.ok() ? "" : te1.status().message()) << (te2.ok() ? "" : te2.status().message()));
  REQUIRE(te1.ok());
  REQUIRE(te2.ok());
  // The weights the networks compute with (shared storage), as ModelLoras gathers them.
  WeightMap live;
  for (const auto& [n, t] : unet.value()->parameters()) live["unet." + n] = t;
  for (const auto& [n, t] : te1.value().parameters()) live["text_encoder." + n] = t;
  for (const auto& [n, t] : te2.value().parameters()) live["text_encoder_2." + n] = t;
  const WeightMap pristine = clone_all(live);

  at::manual_seed(3);
  models::UNetInputs in;
  in.sample = at::randn({2, 4, 16, 16});
  in.timestep = at::full({2}, 500.0);
  in.encoder_hidden_states = at::randn({2, 7, 64});
  in.text_embeds = at::randn({2, 32});
  in.time_ids = at::tensor({64.0, 64.0, 0.0, 0.0, 64.0, 64.0}).repeat({2, 1});
  const at::Tensor ids = at::randint(0, 1000, {2, 7}, at::kLong);
  auto run = [&] {
    std::vector<at::Tensor> out;
    auto eps = unet.value()->forward(in);
    REQUIRE(eps.ok());
    out.push_back(eps.value());
    for (const auto* te : {&te1.value(), &te2.value()}) {
      auto o = te->forward(ids);
      REQUIRE(o.ok());
      out.push_back(o.value().last_hidden_state);
    }
    return out;
  };
  const auto plain = run();

  LoraLibrary lib(lora_test::all_formats());
  const ModuleTable table = ModuleTable::from_params(param_shapes(live));
  const auto kohya = load(lib, table, "kohya_lora");
  const auto loha = load(lib, table, "lycoris_loha");
  const std::vector<std::vector<RuntimeLora>> sets = {
      {{kohya, {0.8, 0.8}}}, {{loha, {0.8, 0.8}}}, {{kohya, {0.7, -0.4}}, {loha, {1.0, 0.5}}}};
  RuntimeEngine runtime(&live, pipeline::runtime_adaptable);
  MergeEngine merge(&live);
  for (std::size_t s = 0; s < sets.size(); ++s) {
    INFO("set " << s);
    auto st = runtime.attach(sets[s]);
    INFO((st.ok() ? "" : st.status().message()));
    REQUIRE(st.ok());
    const auto rt = run();
    CHECK(all_equal(live, pristine));  // runtime mode never writes a weight
    runtime.detach();
    for (const auto& l : sets[s]) REQUIRE(merge.merge({{l.lora, 1.0}}, l.multipliers).ok());
    const auto mg = run();
    merge.unmerge();
    REQUIRE(all_equal(live, pristine));
    for (std::size_t i = 0; i < rt.size(); ++i) {
      INFO("output " << i << " (0: UNet eps, 1/2: text encoders)");
      CHECK(relative_error(rt[i], mg[i]) < 1e-4);
      CHECK(relative_error(mg[i], plain[i]) > 1e-3);  // the LoRA does change the output
    }
  }
  const auto after = run();
  for (std::size_t i = 0; i < after.size(); ++i) CHECK(at::equal(after[i], plain[i]));
}

TEST_CASE("low-rank factors from the format extension reproduce the plugins' merge maths", "[lora][runtime][merge]") {
  if (!lora_test::have_goldens()) {
    WARN("goldens not found: skipped");
    return;
  }
  for (const std::string name : {"kohya_lora", "kohya_locon", "lycoris_locon_ext", "diffusers_peft"}) {
    INFO(name);
    WeightMap fast = lora_test::tiny_model(at::kFloat);
    WeightMap slow = clone_all(fast);
    LoraLibrary lib(lora_test::all_formats());
    const ModuleTable table = ModuleTable::from_params(param_shapes(fast));
    auto lora = load(lib, table, name);
    std::size_t with_factors = 0;
    for (const auto& f : lora->low_rank) with_factors += f.has_value();
    CHECK(with_factors > 0);
    // The same parse without factors: every patch goes through WeightPatch::apply.
    auto plain = std::make_shared<LoadedLora>();
    plain->source = lora->source;
    for (const auto& p : lora->parse.patches) {
      struct Forward final : sdk::WeightPatch {
        const sdk::WeightPatch* p;
        explicit Forward(const sdk::WeightPatch* q) : p(q) {}
        const std::string& module() const override { return p->module(); }
        const std::string& parameter() const override { return p->parameter(); }
        sdk::Result<at::Tensor> apply(const at::Tensor& b, double m) const override { return p->apply(b, m); }
      };
      plain->parse.patches.push_back(std::make_unique<Forward>(p.get()));
    }
    MergeEngine a(&fast), b(&slow);
    REQUIRE(a.merge({{lora, -0.6}}).ok());
    REQUIRE(b.merge({{plain, -0.6}}).ok());
    for (const auto& [k, v] : fast) {
      INFO(k);
      CHECK(at::allclose(v, slow.at(k), 1e-5, 1e-7));
    }
  }
}
