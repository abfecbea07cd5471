// Behaviour beyond the golden shapes and step counts: every feature runs any step count and
// latent shape, a batch of two equals two single runs (each sample with its own noise stream),
// and img2img truncation starts where the full schedule would be.
#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "golden/scheduler_golden.h"
#include "noise/cpu_torch_noise.h"
#include "scheduler_test_support.h"
#include "schedulers/sampling_params.h"

using namespace sdxl;

namespace {

/// Per-sample noise: a batch draws row b from generator b, so batch and single runs agree.
class PerSampleNoise : public sdk::NoiseSource {
 public:
  explicit PerSampleNoise(std::vector<std::uint64_t> seeds) {
    for (auto s : seeds) gens_.emplace_back(s);
  }
  at::Tensor randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) override {
    std::vector<at::Tensor> rows;
    std::vector<std::int64_t> one(shape.begin(), shape.end());
    one[0] = 1;
    for (auto& g : gens_) rows.push_back(g.randn(one, dtype, device));
    return at::cat(rows, 0);
  }

 private:
  std::vector<noise::CpuTorchNoise> gens_;
};

/// Runs the whole loop with the golden stand-in model; returns the final sample.
at::Tensor run(const std::string& feature, std::int64_t steps, const at::Tensor& start_noise,
               std::vector<std::uint64_t> seeds, double strength = 1.0, at::Tensor clean = {}) {
  auto created = test::create_scheduler(feature);
  REQUIRE(created.ok());
  auto& s = *created.value();
  REQUIRE(s.set_timesteps(steps).ok());
  at::Tensor x;
  if (strength < 1.0) {
    REQUIRE(schedulers::apply_img2img_strength(s, steps, strength).ok());
    auto n = s.add_noise(clean, start_noise, 0);
    REQUIRE(n.ok());
    x = n.value();
  } else {
    x = start_noise * static_cast<float>(s.init_noise_sigma());
  }
  PerSampleNoise noise(std::move(seeds));
  auto ts = s.timesteps().to(at::kDouble);
  for (std::int64_t i = 0; i < ts.size(0); ++i) {
    auto x_in = s.scale_model_input(x, i);
    REQUIRE(x_in.ok());
    auto out = golden::scheduler_stand_in(x_in.value(), ts[i].item<double>(), 0.8, 0.2);
    auto r = s.step(out, i, x, noise);
    REQUIRE(r.ok());
    x = r.value().prev_sample;
  }
  return x;
}

std::vector<std::string> feature_names() {
  std::vector<std::string> names;
  for (auto& p : test::scheduler_plugins())
    for (const auto& f : p->info().features) names.push_back(f.name);
  return names;
}

}  // namespace

TEST_CASE("batch of two equals two single runs, any shape and step count", "[schedulers][consistency]") {
  noise::CpuTorchNoise g(1234);
  auto start = g.randn({2, 4, 6, 10}, at::kFloat, at::kCPU);
  for (const auto& f : feature_names()) {
    const std::int64_t steps = (f == "lcm" || f == "tcd") ? 6 : 13;
    INFO(f);
    auto both = run(f, steps, start, {11, 22});
    auto a = run(f, steps, start.slice(0, 0, 1), {11});
    auto b = run(f, steps, start.slice(0, 1, 2), {22});
    CHECK(both.sizes() == start.sizes());
    CHECK(at::isfinite(both).all().item<bool>());
    CHECK(at::allclose(both.slice(0, 0, 1), a, 1e-6, 1e-6));
    CHECK(at::allclose(both.slice(0, 1, 2), b, 1e-6, 1e-6));
  }
}

TEST_CASE("every feature handles 1, 2, 3 and 50 steps", "[schedulers][consistency]") {
  noise::CpuTorchNoise g(5);
  auto start = g.randn({1, 4, 3, 5}, at::kFloat, at::kCPU);
  for (const auto& f : feature_names()) {
    for (std::int64_t steps : {1, 2, 3, 50}) {
      INFO(f << " steps " << steps);
      auto x = run(f, steps, start, {3});
      CHECK(at::isfinite(x).all().item<bool>());
      // The final sample is close to clean data: bounded by the stand-in's fixed point scale.
      CHECK(x.abs().max().item<double>() < 100.0);
    }
  }
}

TEST_CASE("img2img truncation skips t_start * order calls", "[schedulers][img2img]") {
  for (const std::string f : {"euler", "heun", "dpm2", "dpmpp_2m", "ddim", "unipc", "dpmpp_2s_a", "ipndm", "euler_beta",
                              "dpmpp_2m_beta", "euler_ays", "dpmpp_2m_ays"}) {
    INFO(f);
    auto full = test::create_scheduler(f);
    auto cut = test::create_scheduler(f);
    REQUIRE(full.ok());
    REQUIRE(cut.ok());
    REQUIRE(full.value()->set_timesteps(20).ok());
    REQUIRE(cut.value()->set_timesteps(20).ok());
    auto t_start = schedulers::apply_img2img_strength(*cut.value(), 20, 0.35);
    REQUIRE(t_start.ok());
    CHECK(t_start.value() == 13);  // int(20 * 0.35) = 7 steps remain
    const auto skipped = t_start.value() * full.value()->order();
    auto ft = full.value()->timesteps().to(at::kDouble);
    auto ct = cut.value()->timesteps().to(at::kDouble);
    CHECK(ct.size(0) == ft.size(0) - skipped);
    CHECK(at::equal(ct, ft.slice(0, skipped)));
  }
}
