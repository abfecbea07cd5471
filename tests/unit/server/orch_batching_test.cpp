// Cross-request batching: jobs with different prompts, seeds and CFG scales denoised in one UNet
// batch give the images they give alone — compared with each job run by itself through
// pipeline::generate exactly as `sdxl generate` runs it (noise::PerImageNoise, scalar CFG).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <catch2/catch.hpp>

#include "image/png.h"
#include "noise/per_image_noise.h"
#include "orch_support.h"
#include "pipeline/generate.h"
#include "server/batch.h"

using namespace sdxl;
using namespace sdxl::server;

namespace {
std::shared_ptr<pipeline::SdxlModel> model() {
  auto dir = models::demo::ensure_demo_model(orch_test::demo_cache());
  REQUIRE(dir.ok());
  pipeline::ModelSpec spec;
  spec.path = dir.value();
  auto m = orch_test::demo_model(spec);
  REQUIRE(m.ok());
  return m.value();
}

// One job alone, as the CLI runs it.
at::Tensor alone(pipeline::SdxlModel& m, const BatchShape& shape, const BatchJob& job) {
  pipeline::GenerateRequest req;
  req.prompts.prompts.assign(static_cast<std::size_t>(job.images), job.prompt);
  if (!job.negative.empty()) req.prompts.negatives.assign(static_cast<std::size_t>(job.images), job.negative);
  req.width = shape.width;
  req.height = shape.height;
  req.steps = shape.steps;
  req.sampler = shape.sampler;
  req.guidance = job.cfg;
  req.guidance_rescale = shape.guidance_rescale;
  noise::PerImageNoise noise(static_cast<std::uint64_t>(job.seed), job.images);
  pipeline::JobHooks hooks;
  hooks.noise = &noise;
  auto r = pipeline::generate(m, *orch_test::registry(), req, hooks);
  REQUIRE(r.ok());
  return r.value().latents;
}
}  // namespace

TEST_CASE("orch batching: a cross-request batch equals its jobs run one by one", "[orch][batch]") {
  auto m = model();
  for (const std::string sampler : {"euler", "euler_a"}) {  // euler_a: per-row ancestral noise
    for (const double rescale : {0.0, 0.7}) {
      BatchShape shape;
      shape.width = shape.height = 64;
      shape.steps = 3;
      shape.sampler = sampler;
      shape.guidance_rescale = rescale;
      const std::vector<BatchJob> jobs = {{"a lighthouse at dusk", "fog", 11, 1, 5.0},
                                          {"two cats", "dogs", 500, 2, 7.5},
                                          {"abstract (shapes:1.0)", "text", 3, 1, 2.0}};
      auto batched = run_batch(*m, *orch_test::registry(), shape, jobs, {});
      REQUIRE(batched.ok());
      REQUIRE(batched.value().latents.size(0) == 4);
      std::int64_t row = 0;
      for (const auto& job : jobs) {
        const at::Tensor solo = alone(*m, shape, job);
        const at::Tensor mine = batched.value().latents.slice(0, row, row + job.images);
        const double diff = (solo - mine).abs().max().item<double>();
        INFO(sampler << " rescale " << rescale << " seed " << job.seed << ": max |batched - alone| = " << diff);
        CHECK(diff <= 1e-6);
        row += job.images;
      }
    }
  }
}

TEST_CASE("orch batching: per-image CFG scales equal to the scalar one change nothing", "[orch][batch]") {
  auto m = model();
  pipeline::GenerateRequest req;
  req.prompts.prompts = {"a", "b"};
  req.width = req.height = 64;
  req.steps = 2;
  req.sampler = "euler";
  req.guidance = 6.0;
  noise::PerImageNoise n1(5, 2), n2(5, 2);
  pipeline::JobHooks h1, h2;
  h1.noise = &n1;
  h2.noise = &n2;
  auto scalar = pipeline::generate(*m, *orch_test::registry(), req, h1);
  req.guidance_per_image = {6.0, 6.0};
  req.guidance = 1.0;  // ignored when per-image scales are given
  auto per_image = pipeline::generate(*m, *orch_test::registry(), req, h2);
  REQUIRE(scalar.ok());
  REQUIRE(per_image.ok());
  CHECK(at::equal(scalar.value().latents, per_image.value().latents));
  req.guidance_per_image = {6.0};
  noise::PerImageNoise n3(5, 2);
  h2.noise = &n3;
  CHECK_FALSE(pipeline::generate(*m, *orch_test::registry(), req, h2).ok());  // one scale per image
}

TEST_CASE("orch batching: the orchestrator batches compatible jobs and only those", "[orch][batch]") {
  auto run = [](std::int64_t max_batch, std::vector<JobSnapshot>& out) {
    auto opt = orch_test::options();
    opt.max_batch = max_batch;
    opt.start_paused = true;
    Orchestrator o(opt);
    std::vector<JobSpec> specs = {orch_test::tiny_job("a lighthouse", 11, 3), orch_test::tiny_job("two cats", 500, 3),
                                  orch_test::tiny_job("a forest", 3, 3), orch_test::tiny_job("other steps", 4, 2)};
    specs[1].cfg = 7.5;
    specs[1].batch_size = 2;
    specs[2].cfg = 2.0;
    specs[2].client = "someone else";
    std::vector<std::string> ids;
    for (const auto& s : specs) {
      auto id = o.submit(s);
      REQUIRE(id.ok());
      ids.push_back(id.value());
    }
    o.resume();
    for (const auto& id : ids) out.push_back(orch_test::wait_done(o, id));
    return o.stats_json();
  };
  std::vector<JobSnapshot> batched, single;
  const auto stats = run(4, batched);
  run(1, single);
  REQUIRE(batched.size() == 4);
  for (std::size_t k = 0; k < 4; ++k) {
    REQUIRE(batched[k].state == JobState::done);
    REQUIRE(single[k].state == JobState::done);
    CHECK(single[k].batch_jobs == 1);
    CHECK(batched[k].batch_jobs == (k < 3 ? 3 : 1));  // the 2-step job cannot join
    REQUIRE(batched[k].images.size() == single[k].images.size());
    for (std::size_t i = 0; i < batched[k].images.size(); ++i) {
      CHECK(batched[k].images[i].seed == single[k].images[i].seed);
      CHECK(batched[k].images[i].infotext == single[k].images[i].infotext);
      // Pixels: the latents agree to 1e-6 (test above); after ×255 and rounding a value on a .5
      // boundary may still land one level apart.
      const auto& a = batched[k].images[i].png;
      const auto& b = single[k].images[i].png;
      auto pa = image::decode_png(a.data(), a.size(), "batched");
      auto pb = image::decode_png(b.data(), b.size(), "single");
      REQUIRE(pa.ok());
      REQUIRE(pb.ok());
      const at::Tensor d = (pa.value().pixels.to(at::kInt) - pb.value().pixels.to(at::kInt)).abs();
      CHECK(d.max().item<int>() <= 1);
      CHECK(d.gt(0).sum().item<std::int64_t>() <= d.numel() / 100);
    }
  }
  CHECK(stats["batches"] == 2);
  CHECK(stats["batch_jobs_histogram"]["3"] == 1);
}

TEST_CASE("orch batching: row seeds draw each row from its own CPU generator", "[orch][batch]") {
  RowSeedNoise rows({5, 6});
  noise::PerImageNoise consecutive(5, 2);
  const at::Tensor a = rows.randn({2, 4, 3, 3}, at::kFloat, at::kCPU);
  CHECK(at::equal(a, consecutive.randn({2, 4, 3, 3}, at::kFloat, at::kCPU)));
  RowSeedNoise scattered({900, 5});
  const at::Tensor b = scattered.randn({2, 4, 3, 3}, at::kFloat, at::kCPU);
  auto g = at::make_generator<at::CPUGeneratorImpl>(5);
  CHECK(at::equal(b[1], at::randn({1, 4, 3, 3}, g, at::TensorOptions().dtype(at::kFloat))[0]));
  CHECK(at::equal(b[1], a[0]));
}
