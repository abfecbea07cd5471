// Base → refiner handoff (diffusers' denoising_end / denoising_start) and the refiner's
// conditioning, on the demo model and a tiny refiner built from it (text_encoder_2 only, a UNet
// with 5 time ids). Independent checks:
//  * handing over to the *same* model at any switch point must reproduce the uninterrupted run
//    exactly (the two halves split one schedule; the noise source continues), for a deterministic
//    and an ancestral sampler;
//  * the split point follows the cutoff formula: with 10 leading steps the timesteps are
//    901, 801, …, 1, so a switch at 0.7 (cutoff 300) gives the base 7 calls and the refiner 3;
//  * the refiner's UNet sees [orig h, w, crop top, left, aesthetic] rows and te2-only embeddings.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "demo_model_fixture.h"
#include "golden/case_files.h"
#include "io/safetensors.h"
#include "models/demo/demo_model.h"
#include "models/demo/demo_shapes.h"
#include "models/unet/unet_model.h"
#include "noise/cpu_torch_noise.h"
#include "pipeline/handoff.h"
#include "pipeline/refiner.h"

namespace fs = std::filesystem;
using namespace sdxl;

namespace {

struct Models {
  std::unique_ptr<plugins::PluginRegistry> reg = test_support::built_plugins();
  std::shared_ptr<pipeline::SdxlModel> base, refiner;
  fs::path demo;
};

// A refiner-shaped folder next to the demo model: its text_encoder_2, tokenizer_2, VAE and
// scheduler, and a fresh UNet whose context is te2's width and whose time ids are 5.
fs::path make_tiny_refiner(const fs::path& demo, const fs::path& out) {
  std::error_code ec;
  fs::remove_all(out, ec);
  fs::create_directories(out / "unet");
  for (const char* c : {"text_encoder_2", "tokenizer_2", "vae", "scheduler"})
    fs::copy(demo / c, out / c, fs::copy_options::recursive);
  auto cfg = models::demo::demo_configs().unet;
  cfg["cross_attention_dim"] = 32;
  cfg["projection_class_embeddings_input_dim"] = 32 + 5 * 8;
  std::ofstream(out / "unet" / "config.json") << cfg.dump(1);
  auto parsed = models::UNetConfig::from_diffusers_json(cfg, "refiner unet");
  REQUIRE(parsed.ok());
  auto shapes = models::UNet2DConditionModel::parameter_shapes(*parsed);
  REQUIRE(shapes.ok());
  at::manual_seed(5);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [k, s] : *shapes) tensors.emplace_back(k, at::randn(s).mul_(0.05));
  REQUIRE(io::write_safetensors(out / "unet" / "diffusion_pytorch_model.safetensors", tensors).ok());
  nlohmann::json index = {{"_class_name", "StableDiffusionXLImg2ImgPipeline"},
                          {"force_zeros_for_empty_prompt", false},
                          {"requires_aesthetics_score", true},
                          {"text_encoder", {nullptr, nullptr}},
                          {"tokenizer", {nullptr, nullptr}}};
  std::ofstream(out / "model_index.json") << index.dump(1);
  return out;
}

Models& shared_models() {
  // The refiner's folder: private to this process (ctest runs this file's cases side by side) and
  // removed at exit, after the models (statics end in reverse order).
  static const golden::TempDir scratch;
  static Models m = [] {
    Models x;
    x.demo = test_support::demo_model_dir("sdxl_refiner_test");
    x.base = test_support::load_model(x.demo, *x.reg);
    x.refiner = test_support::load_model(
        make_tiny_refiner(x.demo, scratch.path() / "tiny-refiner"),
        *x.reg);
    return x;
  }();
  return m;
}

pipeline::GenerateRequest request(const std::string& sampler) {
  pipeline::GenerateRequest r;
  r.prompts.prompts = {"a lighthouse", "a red boat"};
  r.width = r.height = 64;
  r.steps = 10;
  r.guidance = 5.0;
  r.sampler = sampler;
  return r;
}

}  // namespace

TEST_CASE("refiner: the cutoff follows diffusers' formula", "[refiner]") {
  CHECK(pipeline::discrete_timestep_cutoff(0.7, 1000) == 300);
  CHECK(pipeline::discrete_timestep_cutoff(0.8, 1000) == 200);
  CHECK(pipeline::discrete_timestep_cutoff(0.0005, 1000) == 1000);  // 999.5 rounds half to even
}

TEST_CASE("refiner: handing over to the same model reproduces the uninterrupted run", "[refiner]") {
  auto& m = shared_models();
  for (const char* sampler : {"euler", "euler_a"}) {
    INFO(sampler);
    noise::CpuTorchNoise n1(42), n2(42);
    pipeline::JobHooks h1, h2;
    h1.noise = &n1;
    h2.noise = &n2;
    std::vector<std::int64_t> totals;
    h2.progress = [&](std::int64_t done, std::int64_t total) {
      if (done == total) totals.push_back(total);
    };
    auto full = pipeline::generate(*m.base, *m.reg, request(sampler), h1);
    REQUIRE(full.ok());
    pipeline::RefinerSettings same;
    same.model = m.base.get();
    same.switch_at = 0.7;
    auto split = pipeline::generate_with_refiner(*m.base, same, *m.reg, request(sampler), h2);
    INFO(split.status().message());
    REQUIRE(split.ok());
    CHECK(totals == std::vector<std::int64_t>{7, 3});
    CHECK(at::allclose(full->latents, split->latents, 1e-5, 1e-6));
    CHECK(at::allclose(full->images, split->images, 1e-5, 1e-5));
  }
}

TEST_CASE("refiner: te2-only text, aesthetic-score time ids, its own empty-prompt rule", "[refiner]") {
  auto& m = shared_models();
  REQUIRE_FALSE(m.refiner->text->has_te1());
  CHECK_FALSE(m.refiner->force_zeros_for_empty_prompt);
  std::map<std::string, at::Tensor> seen;
  pipeline::StepSink sink = [&](const std::string& name, const at::Tensor& t) { seen[name] = t.clone(); };
  noise::CpuTorchNoise noise(3);
  pipeline::JobHooks hooks;
  hooks.noise = &noise;
  hooks.sink = &sink;
  pipeline::RefinerSettings r;
  r.model = m.refiner.get();
  r.switch_at = 0.8;
  auto req = request("euler");
  req.aesthetic_score = 7.0;
  auto out = pipeline::generate_with_refiner(*m.base, r, *m.reg, req, hooks);
  INFO(out.status().message());
  REQUIRE(out.ok());
  CHECK(out->images.sizes() == at::IntArrayRef({2, 3, 64, 64}));
  CHECK(at::isfinite(out->images).all().item<bool>());
  // The sink holds the refiner's (last) stage: rows [neg, neg, pos, pos].
  const at::Tensor ids = seen.at("add_time_ids");
  REQUIRE(ids.sizes() == at::IntArrayRef({4, 5}));
  CHECK(at::equal(ids[0], at::tensor({64.f, 64.f, 0.f, 0.f, 2.5f})));
  CHECK(at::equal(ids[3], at::tensor({64.f, 64.f, 0.f, 0.f, 7.f})));
  const at::Tensor ctx = seen.at("encoder_hidden_states");
  CHECK(ctx.size(2) == 32);  // text_encoder_2's width alone
  // force_zeros_for_empty_prompt false: the empty negative is encoded, not zeros, and equals
  // text_encoder_2's penultimate state for "".
  CHECK(ctx.slice(0, 0, 2).abs().sum().item<double>() > 0);
  auto empty = m.refiner->tokenizers.encode("");
  REQUIRE(empty.ok());
  auto te2 = m.refiner->text->te2().forward(at::tensor(empty->ids_2, at::kLong).unsqueeze(0));
  REQUIRE(te2.ok());
  CHECK(at::allclose(ctx[0], te2->penultimate[0], 1e-5, 1e-6));
}

TEST_CASE("refiner: bad handoff settings are refused before any work", "[refiner]") {
  auto& m = shared_models();
  noise::CpuTorchNoise noise(1);
  pipeline::JobHooks hooks;
  hooks.noise = &noise;
  pipeline::RefinerSettings r;
  r.model = m.refiner.get();
  r.switch_at = 1.2;
  auto bad = pipeline::generate_with_refiner(*m.base, r, *m.reg, request("euler"), hooks);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("switch") != std::string::npos);
  auto req = request("euler");
  req.denoising_start = 0.5;  // without latents to continue from
  auto st = pipeline::generate(*m.refiner, *m.reg, req, hooks);
  REQUIRE_FALSE(st.ok());
  CHECK(st.status().message().find("latents") != std::string::npos);
}
