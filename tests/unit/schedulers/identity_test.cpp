// Analytic identities between samplers, at step counts and shapes the goldens do not cover:
//   * ancestral Euler in σ scaling is the DDPM posterior sampler (README §9): with the same draws
//     both end at the same sample;
//   * deterministic DDIM with ᾱ_final = 1 is the Euler method on the probability-flow ODE, so
//     DDIM (eta 0, set_alpha_to_one) and Euler end at the same sample.
#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "golden/scheduler_golden.h"
#include "noise/cpu_torch_noise.h"
#include "scheduler_test_support.h"

using namespace sdxl;

namespace {

/// Serves one fixed draw per call, whatever the sampler (draws the sampler skips are unused).
class FixedDraws : public sdk::NoiseSource {
 public:
  explicit FixedDraws(std::vector<at::Tensor> d) : draws_(std::move(d)) {}
  void begin_call(std::int64_t i) { call_ = i; }
  at::Tensor randn(at::IntArrayRef, c10::ScalarType, c10::Device) override {
    return draws_[static_cast<size_t>(call_)];
  }

 private:
  std::vector<at::Tensor> draws_;
  std::int64_t call_ = 0;
};

at::Tensor run(const std::string& feature, const sdk::Options& opts, std::int64_t steps, const at::Tensor& noise,
               FixedDraws& draws) {
  auto created = test::create_scheduler(feature, opts);
  REQUIRE(created.ok());
  auto& s = *created.value();
  REQUIRE(s.set_timesteps(steps).ok());
  at::Tensor x = noise * static_cast<float>(s.init_noise_sigma());
  auto ts = s.timesteps().to(at::kDouble);
  for (std::int64_t i = 0; i < ts.size(0); ++i) {
    draws.begin_call(i);
    auto x_in = s.scale_model_input(x, i);
    REQUIRE(x_in.ok());
    auto out = golden::scheduler_stand_in(x_in.value(), ts[i].item<double>(), 0.7, 0.25);
    auto r = s.step(out, i, x, draws);
    REQUIRE(r.ok());
    x = r.value().prev_sample;
  }
  return x;
}

}  // namespace

TEST_CASE("Euler ancestral equals DDPM with the same draws", "[schedulers][identity]") {
  for (std::int64_t steps : {5, 13, 40}) {
    INFO("steps " << steps);
    noise::CpuTorchNoise g(static_cast<std::uint64_t>(steps));
    auto noise = g.randn({2, 4, 5, 7}, at::kFloat, at::kCPU);
    std::vector<at::Tensor> d;
    for (std::int64_t i = 0; i < steps; ++i) d.push_back(g.randn({2, 4, 5, 7}, at::kFloat, at::kCPU));
    FixedDraws a(d), b(d);
    auto ddpm = run("ddpm", {}, steps, noise, a);
    auto euler_a = run("euler_a", {}, steps, noise, b);
    CHECK(at::allclose(euler_a, ddpm, 1e-4, 1e-4));
  }
}

TEST_CASE("DDIM (eta 0, alpha_cumprod 1 at the end) equals Euler", "[schedulers][identity]") {
  sdk::Options ddim;
  ddim.set("set_alpha_to_one", true);
  for (std::int64_t steps : {6, 17}) {
    INFO("steps " << steps);
    noise::CpuTorchNoise g(99);
    auto noise = g.randn({1, 4, 9, 3}, at::kFloat, at::kCPU);
    FixedDraws a({}), b({});
    auto x_ddim = run("ddim", ddim, steps, noise, a);
    auto x_euler = run("euler", {}, steps, noise, b);
    CHECK(at::allclose(x_euler, x_ddim, 1e-4, 1e-4));
  }
}
