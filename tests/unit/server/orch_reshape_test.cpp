// The memory arbiter's reshaping advice followed by the job server: a batch denoised in chunks of
// at most max_batch images gives exactly the images of the unsplit batch.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "image/png.h"
#include "memory/activation_estimate.h"
#include "memory/arbiter.h"
#include "server/batch.h"
#include "server/orchestrator_admission.h"
#include "orch_support.h"

using namespace sdxl;

namespace {

std::shared_ptr<pipeline::SdxlModel> demo() { return orch_test::shared_demo(); }

server::BatchShape shape64() {
  server::BatchShape s;
  s.width = s.height = 64;
  s.steps = 2;
  s.sampler = "euler_a";  // ancestral: every step draws noise, so row seeding matters
  return s;
}

int max_level_difference(const at::Tensor& a, const at::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return (a.to(at::kInt) - b.to(at::kInt)).abs().max().item<int>();
}

}  // namespace

TEST_CASE("reshape: a batch run in chunks equals the unsplit batch", "[server][reshape]") {
  auto model = demo();
  const auto& reg = *orch_test::registry();
  std::vector<server::BatchJob> jobs(2);
  jobs[0].prompt = "a lighthouse";
  jobs[0].seed = 1;
  jobs[0].images = 3;
  jobs[0].cfg = 5.0;
  jobs[1].prompt = "a harbour at dusk";
  jobs[1].seed = 20;
  jobs[1].images = 2;
  jobs[1].cfg = 7.5;
  auto whole = server::run_batch(*model, reg, shape64(), jobs, {});
  REQUIRE(whole.ok());

  std::vector<std::pair<std::int64_t, std::int64_t>> progress;
  server::BatchHooks hooks;
  hooks.progress = [&](std::int64_t done, std::int64_t total) { progress.emplace_back(done, total); };
  auto split = server::run_batch_chunked(*model, reg, shape64(), jobs, hooks, 2);  // rows 2 + 2 + 1
  REQUIRE(split.ok());
  CHECK(at::equal(split.value().latents, whole.value().latents));
  REQUIRE(split.value().images.size() == 2);
  CHECK(split.value().images[0].size(0) == 3);
  // The VAE decodes other batch compositions: its convolutions may round differently per batch
  // size, so the pictures agree to one level (the latents above are exact).
  CHECK(max_level_difference(split.value().images[0], whole.value().images[0]) <= 1);
  CHECK(max_level_difference(split.value().images[1], whole.value().images[1]) <= 1);
  // Progress runs end to end over the three chunks.
  REQUIRE_FALSE(progress.empty());
  CHECK(progress.back().first == progress.back().second);
  for (std::size_t i = 1; i < progress.size(); ++i) CHECK(progress[i].first >= progress[i - 1].first);
  CHECK(progress.back().second == 3 * 2);  // three chunks of two sampler calls
}

TEST_CASE("reshape: the orchestrator denoises fewer images at once when the arbiter says so", "[server][reshape]") {
  auto model = demo();
  const auto& reg = *orch_test::registry();
  // A budget for two of the job's four images (activations dominate at this size).
  const std::int64_t images = 4;
  const std::uint64_t activations = memory::estimate_unet_activation_bytes(model->unet->config(), images, 64, 64,
                                                                           model->dtype, true);
  const auto& info = model->vae->info();
  const std::int64_t latent[] = {images, info.latent_channels, 64 / info.downscale, 64 / info.downscale};
  const std::uint64_t decode = model->vae->estimate_decode_bytes(latent);
  const std::uint64_t per_image = (std::max(activations, decode) + images - 1) / images;
  memory::Ledger ledger;
  memory::MemoryArbiter arbiter(ledger);
  arbiter.set_budget(c10::Device(c10::kCPU), per_image * 2 + per_image / 2);

  auto o = orch_test::options();
  o.admit = server::arbiter_admission(arbiter);
  server::Orchestrator orch(o);
  auto spec = orch_test::tiny_job("a lighthouse", 11);
  spec.sampler = "euler_a";
  spec.batch_size = images;
  auto id = orch.submit(spec);
  REQUIRE(id.ok());
  const auto snap = orch_test::wait_done(orch, id.value(), 120);
  INFO(snap.error);
  REQUIRE(snap.state == server::JobState::done);
  REQUIRE(snap.images.size() == static_cast<std::size_t>(images));
  CHECK(arbiter.stats_json()["jobs"]["reshaped"] == 1);

  // The same images as the whole batch at once.
  server::BatchJob job;
  job.prompt = "a lighthouse";
  job.seed = 11;
  job.images = images;
  job.cfg = spec.cfg;
  auto whole = server::run_batch(*model, reg, shape64(), {job}, {});
  REQUIRE(whole.ok());
  for (std::int64_t i = 0; i < images; ++i) {
    auto png = image::decode_png(snap.images[i].png.data(), snap.images[i].png.size(), "job image");
    REQUIRE(png.ok());
    CHECK(max_level_difference(png.value().pixels, whole.value().images[0][i]) <= 1);
  }
}
