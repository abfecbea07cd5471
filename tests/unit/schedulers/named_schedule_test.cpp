// The "beta" and "ays" sigma schedules, checked against their published definitions evaluated
// here independently: σ_train from the SDXL training betas in double, the Beta(0.6, 0.6)
// quantile property of every beta timestep via a CDF integrated numerically in this file, the
// quantile symmetry t_k + t_{N−k} = T − 1, and the published Align-Your-Steps SDXL table with
// its log-linear interpolation rule. Also: feature names and aliases users type.
#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "golden/scheduler_golden.h"
#include "scheduler_test_support.h"
#include "schedulers/names.h"

using namespace sdxl;

namespace {

std::vector<double> values(const at::Tensor& t) {
  auto d = t.to(at::kDouble).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

struct Schedule {
  std::vector<double> timesteps, sigmas;
};

Schedule schedule_of(const std::string& feature, std::int64_t n) {
  auto s = test::create_scheduler(feature);
  REQUIRE(s.ok());
  REQUIRE(s.value()->set_timesteps(n).ok());
  return {values(s.value()->timesteps()), values(s.value()->sigmas())};
}

/// σ_train[t] of SDXL (scaled_linear 0.00085 … 0.012, T = 1000) in double.
std::vector<double> sdxl_train_sigmas() {
  std::vector<double> s;
  double ac = 1.0;
  const double a = std::sqrt(0.00085), b = std::sqrt(0.012);
  for (int t = 0; t < 1000; ++t) {
    const double beta = std::pow(a + (b - a) * t / 999.0, 2);
    ac *= 1.0 - beta;
    s.push_back(std::sqrt((1.0 - ac) / ac));
  }
  return s;
}

/// CDF of Beta(0.6, 0.6) by quadrature (t = sin²(u⁵) substitution, composite Simpson).
double beta06_cdf(double x) {
  const double upper = std::pow(std::asin(std::sqrt(x)), 0.2);
  const int n = 4000;
  const double h = upper / n;
  auto f = [](double u) {
    const double th = std::pow(u, 5);
    return 2.0 * std::pow(std::sin(th) * std::cos(th), 0.2) * 5.0 * std::pow(u, 4);
  };
  double sum = f(0.0) + f(upper);
  for (int i = 1; i < n; ++i) sum += f(i * h) * (i % 2 ? 4.0 : 2.0);
  return sum * h / 3.0 / (std::tgamma(0.6) * std::tgamma(0.6) / std::tgamma(1.2));
}

// Sabour et al. (2024), Align Your Steps, SDXL 10-step noise levels as published.
const std::vector<double> kAysSdxl{14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029};

}  // namespace

TEST_CASE("beta schedule: timesteps are rounded Beta(0.6, 0.6) quantiles of 1 - k/N", "[schedulers][beta]") {
  const auto train = sdxl_train_sigmas();
  for (const std::string f : {"euler_beta", "dpmpp_2m_beta"}) {
    for (std::int64_t n : {1, 2, 7, 10, 30}) {
      INFO(f << " steps " << n);
      auto s = schedule_of(f, n);
      REQUIRE(s.timesteps.size() == static_cast<size_t>(n));
      REQUIRE(s.sigmas.size() == static_cast<size_t>(n + 1));
      CHECK(s.timesteps.front() == 999);
      CHECK(s.sigmas.back() == 0.0);
      for (std::int64_t k = 0; k < n; ++k) {
        const double t = s.timesteps[static_cast<size_t>(k)];
        INFO("k " << k << " t " << t);
        CHECK(t == std::round(t));
        // (float32 ᾱ = cumprod in float32, as diffusers builds it, drifts ~2e-6 from the double product)
        CHECK(s.sigmas[static_cast<size_t>(k)] == Approx(train[static_cast<size_t>(t)]).epsilon(1e-5));
        // t = rint(999·x) with I_x = 1 − k/N: the CDF brackets 1 − k/N across t ± ½.
        const double q = 1.0 - static_cast<double>(k) / static_cast<double>(n);
        if (k > 0) {
          CHECK(beta06_cdf((t - 0.5) / 999.0) <= q + 1e-9);
          CHECK(beta06_cdf((t + 0.5) / 999.0) >= q - 1e-9);
        }
        // Beta(a, a) quantiles are symmetric: x_k + x_{N−k} = 1, so t_k + t_{N−k} = 999 (no ties off N/2).
        if (k > 0 && 2 * k != n) CHECK(t + s.timesteps[static_cast<size_t>(n - k)] == 999);
      }
    }
  }
  // N = 2: the median 0.5·999 = 499.5 is a tie; numpy's rint (half to even) gives 500.
  CHECK(schedule_of("euler_beta", 2).timesteps == std::vector<double>{999, 500});
}

TEST_CASE("beta schedule at many steps drops repeated timesteps and stays strictly decreasing", "[schedulers][beta]") {
  for (const std::string f : {"euler_beta", "dpmpp_2m_beta", "ipndm"}) {
    sdk::Options o;
    o.set("sigma_schedule", std::string("beta"));
    auto s = test::create_scheduler(f, o);
    REQUIRE(s.ok());
    REQUIRE(s.value()->set_timesteps(400).ok());
    auto t = values(s.value()->timesteps());
    auto sig = values(s.value()->sigmas());
    INFO(f << " calls " << t.size());
    CHECK(t.size() < 400);  // the quantiles crowd at both ends: repeats are dropped
    CHECK(t.size() > 300);
    CHECK(sig.size() == t.size() + 1);
    for (size_t i = 0; i + 1 < t.size(); ++i) CHECK(t[i] > t[i + 1]);
    for (size_t i = 0; i + 1 < sig.size(); ++i) CHECK(sig[i] > sig[i + 1]);
  }
}

TEST_CASE("ays schedule: the published SDXL table, log-linearly interpolated", "[schedulers][ays]") {
  for (const std::string f : {"euler_ays", "dpmpp_2m_ays"}) {
    INFO(f);
    // 10 steps: the table itself, its last level replaced by σ = 0.
    auto s10 = schedule_of(f, 10);
    REQUIRE(s10.sigmas.size() == 11);
    for (size_t k = 0; k < 10; ++k) CHECK(s10.sigmas[k] == Approx(kAysSdxl[k]).epsilon(1e-6));
    CHECK(s10.sigmas[10] == 0.0);
    // 5 steps: every other level; 20 steps: table levels at even k, geometric means between.
    auto s5 = schedule_of(f, 5);
    REQUIRE(s5.sigmas.size() == 6);
    for (size_t k = 0; k < 5; ++k) CHECK(s5.sigmas[k] == Approx(kAysSdxl[2 * k]).epsilon(1e-6));
    auto s20 = schedule_of(f, 20);
    REQUIRE(s20.sigmas.size() == 21);
    for (size_t k = 0; k < 20; ++k) {
      const double want = k % 2 == 0 ? kAysSdxl[k / 2] : std::sqrt(kAysSdxl[k / 2] * kAysSdxl[k / 2 + 1]);
      CHECK(s20.sigmas[k] == Approx(want).epsilon(1e-6));
    }
    // 7 steps: log σ linear in the table position 10k/7.
    auto s7 = schedule_of(f, 7);
    for (size_t k = 0; k < 7; ++k) {
      const double pos = 10.0 * static_cast<double>(k) / 7.0;
      const auto j = static_cast<size_t>(std::floor(pos));
      const double w = pos - static_cast<double>(j);
      CHECK(s7.sigmas[k] == Approx(std::exp((1 - w) * std::log(kAysSdxl[j]) + w * std::log(kAysSdxl[j + 1]))).epsilon(1e-6));
    }
    // Timesteps: 14.615 lies just above σ_train[999], so the first call is at t = 999.
    CHECK(s10.timesteps.front() == Approx(999.0));
    for (size_t i = 0; i + 1 < s20.timesteps.size(); ++i) CHECK(s20.timesteps[i] > s20.timesteps[i + 1]);
  }
}

TEST_CASE("new sampler names and A1111 / ComfyUI aliases resolve", "[schedulers][names]") {
  std::vector<sdk::FeatureInfo> all;
  for (auto& p : test::scheduler_plugins())
    for (const auto& i : p->info().features) all.push_back(i);
  auto is = [&](const std::string& name, const std::string& want) {
    auto r = schedulers::resolve_sampler(name, all);
    return r.ok() && r.value() == want;
  };
  CHECK(is("DPM++ 2S a", "dpmpp_2s_a"));
  CHECK(is("dpmpp_2s_ancestral", "dpmpp_2s_a"));
  CHECK(is("DPM++ 2S a Karras", "dpmpp_2s_a_karras"));
  CHECK(is("IPNDM", "ipndm"));
  CHECK(is("ipndm", "ipndm"));
  CHECK(is("DPM++ 2M Beta", "dpmpp_2m_beta"));
  CHECK(is("Euler Beta", "euler_beta"));
  CHECK(is("Align Your Steps", "dpmpp_2m_ays"));
  CHECK(is("Euler Align Your Steps", "euler_ays"));
  // No alias designates two features.
  std::map<std::string, std::set<std::string>> owners;
  for (const auto& f : all) {
    owners[schedulers::loose_name(f.name)].insert(f.name);
    for (const auto& a : f.aliases) owners[schedulers::loose_name(a)].insert(f.name);
  }
  for (const auto& [key, names] : owners) {
    INFO(key);
    CHECK(names.size() == 1);
  }
}

TEST_CASE("every sampler with a sigma table runs the beta and ays schedules", "[schedulers][beta][ays]") {
  struct NoDraws : sdk::NoiseSource {
    at::Tensor randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) override {
      return at::ones(shape, at::TensorOptions().dtype(dtype).device(device)) * 0.1;
    }
  } noise;
  auto x_init = at::linspace(-2.0, 2.0, 36, at::kFloat).reshape({1, 4, 3, 3});
  for (auto& p : test::scheduler_plugins()) {
    for (const auto& f : p->info().features) {
      const bool has = std::any_of(f.options.begin(), f.options.end(),
                                   [](const sdk::OptionSpec& o) { return o.key == "sigma_schedule"; });
      if (!has) continue;
      for (const std::string sched : {"beta", "ays"}) {
        for (std::int64_t steps : {1, 3, 10, 200}) {
          INFO(f.name << " " << sched << " steps " << steps);
          sdk::Options o;
          o.set("sigma_schedule", sched);
          o.set("use_karras_sigmas", false);
          auto created = p->create_scheduler(f.name, o, sdk::HostServices{});
          REQUIRE(created.ok());
          auto& s = *created.value();
          REQUIRE(s.set_timesteps(steps).ok());
          auto sig = values(s.sigmas());
          if (f.name.rfind("deis", 0) != 0) CHECK(sig.back() == 0.0);  // DEIS ends at σ_train[0] by design
          CHECK(sig.size() <= static_cast<size_t>(s.order() * (steps + 1)));  // Heun/DPM2 list doubled tables
          if (sched == "ays") CHECK(sig.front() == Approx(14.615).epsilon(1e-6));
          at::Tensor x = x_init * static_cast<float>(s.init_noise_sigma());
          auto ts = s.timesteps().to(at::kDouble);
          for (std::int64_t i = 0; i < ts.size(0); ++i) {
            auto x_in = s.scale_model_input(x, i);
            REQUIRE(x_in.ok());
            auto r = s.step(golden::scheduler_stand_in(x_in.value(), ts[i].item<double>(), 0.8, 0.2), i, x, noise);
            REQUIRE(r.ok());
            x = r.value().prev_sample;
          }
          CHECK(at::isfinite(x).all().item<bool>());
          CHECK(x.abs().max().item<double>() < 100.0);
        }
      }
    }
  }
}
