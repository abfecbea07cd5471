// Schedules checked against numbers and formulas stated independently of this code: the worked
// examples of the golden README (section 8/9) for step counts the golden files do not cover, and
// the exponential / sgm_uniform sigma schedules (no diffusers 0.30.3 reference exists) against
// their defining formulas evaluated here in double from the reference ᾱ.
#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include <cmath>

#include "golden/case_files.h"
#include "scheduler_test_support.h"

using namespace sdxl;

namespace {

std::vector<double> timesteps_of(const std::string& feature, std::int64_t n) {
  auto s = test::create_scheduler(feature);
  REQUIRE(s.ok());
  REQUIRE(s.value()->set_timesteps(n).ok());
  auto t = s.value()->timesteps().to(at::kDouble).contiguous();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

std::vector<double> sigmas_of(const std::string& feature, std::int64_t n) {
  auto s = test::create_scheduler(feature);
  REQUIRE(s.ok());
  REQUIRE(s.value()->set_timesteps(n).ok());
  auto t = s.value()->sigmas().to(at::kDouble).contiguous();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

bool contains_pair(const std::vector<double>& v, double a, double b) {
  for (size_t i = 0; i + 1 < v.size(); ++i)
    if (v[i] == a && v[i + 1] == b) return true;
  return false;
}

/// σ_train[t] in double from the reference ᾱ (float32 values stored as float64 in every golden).
std::vector<double> reference_sigmas() {
  auto c = golden::load_case(test::scheduler_golden_dir() / "euler_8.safetensors");
  REQUIRE(c.ok());
  auto ac = c.value().tensors->tensor("alphas_cumprod").value().contiguous();
  std::vector<double> s;
  for (std::int64_t i = 0; i < ac.numel(); ++i) {
    const double a = ac.data_ptr<double>()[i];
    s.push_back(std::sqrt((1 - a) / a));
  }
  return s;
}

}  // namespace

TEST_CASE("spacing examples of the golden README", "[schedulers][schedule]") {
  CHECK(timesteps_of("euler", 8) == std::vector<double>{876, 751, 626, 501, 376, 251, 126, 1});
  auto ms = timesteps_of("dpmpp_2m", 8);
  CHECK(ms.front() == 889);
  CHECK(ms.back() == 112);
  CHECK(timesteps_of("lcm", 4) == std::vector<double>{999, 759, 499, 259});
  CHECK(timesteps_of("dpmpp_2s", 8) == std::vector<double>{999, 874, 749, 624, 500, 375, 250, 125});
  CHECK(timesteps_of("dpmpp_2m_karras", 8) == std::vector<double>{999, 890, 746, 549, 299, 90, 12, 0});
  // trailing N=12 lists 916 then 832; N=16 rounds 812.5 half to even (812, listed as 811).
  CHECK(contains_pair(timesteps_of("ddim_trailing", 12), 916, 832));
  auto t16 = timesteps_of("ddim_trailing", 16);
  CHECK(std::find(t16.begin(), t16.end(), 811.0) != t16.end());
  CHECK(std::find(t16.begin(), t16.end(), 812.0) == t16.end());
  // singlestep N=60: linspace entries 166.5 → 166, 499.49999999999994 → 499, 832.4999999999999 → 832.
  auto s60 = timesteps_of("dpmpp_2s", 60);
  for (double v : {166.0, 499.0, 832.0}) CHECK(std::find(s60.begin(), s60.end(), v) != s60.end());
  for (double v : {167.0, 500.0, 833.0}) CHECK(std::find(s60.begin(), s60.end(), v) == s60.end());
  // Heun / DPM2 list 2N-1 calls, PLMS N+1.
  CHECK(timesteps_of("heun", 11).size() == 21);
  CHECK(timesteps_of("dpm2_a", 11).size() == 21);
  CHECK(timesteps_of("pndm", 11).size() == 12);
}

TEST_CASE("exponential sigmas are log-uniform between the default end points", "[schedulers][schedule]") {
  if (!std::filesystem::exists(test::scheduler_golden_dir())) {
    WARN("SKIP: scheduler goldens not found");
    return;
  }
  const auto train = reference_sigmas();
  for (std::int64_t n : {5, 12}) {
    // Euler: end points are the σ of the first and last leading timesteps (σ interpolation at integer t).
    auto e = sigmas_of("euler_exponential", n);
    auto base = sigmas_of("euler", n);
    REQUIRE(e.size() == static_cast<size_t>(n + 1));
    CHECK(e.back() == 0.0);
    for (std::int64_t k = 0; k < n; ++k) {
      const double want = std::exp(std::log(base[0]) + static_cast<double>(k) / (n - 1) *
                                                        (std::log(base[static_cast<size_t>(n - 1)]) - std::log(base[0])));
      CHECK(e[static_cast<size_t>(k)] == Approx(want).epsilon(2e-6));
    }
    // DPM++: full training range σ_train[999] … σ_train[0].
    auto d = sigmas_of("dpmpp_2m_exponential", n);
    for (std::int64_t k = 0; k < n; ++k) {
      const double want =
          std::exp(std::log(train[999]) + static_cast<double>(k) / (n - 1) * (std::log(train[0]) - std::log(train[999])));
      CHECK(d[static_cast<size_t>(k)] == Approx(want).epsilon(2e-6));
    }
    auto dt = timesteps_of("dpmpp_2m_exponential", n);
    CHECK(dt.front() == 999);
    CHECK(dt.back() == 0);
  }
}

TEST_CASE("sgm_uniform sigmas sample log sigma at uniform timesteps", "[schedulers][schedule]") {
  if (!std::filesystem::exists(test::scheduler_golden_dir())) {
    WARN("SKIP: scheduler goldens not found");
    return;
  }
  const auto train = reference_sigmas();
  for (const std::string f : {"euler_sgm_uniform", "dpmpp_2m_sgm_uniform"}) {
    const std::int64_t n = 7;
    auto s = sigmas_of(f, n);
    REQUIRE(s.size() == static_cast<size_t>(n + 1));
    CHECK(s.back() == 0.0);
    for (std::int64_t k = 0; k < n; ++k) {
      const double t = 999.0 - 999.0 * static_cast<double>(k) / static_cast<double>(n);  // linspace(999, 0, n+1)[:-1]
      const auto lo = static_cast<size_t>(std::floor(t));
      const auto hi = std::min<size_t>(lo + 1, 999);
      const double w = t - std::floor(t);
      const double want = std::exp((1 - w) * std::log(train[lo]) + w * std::log(train[hi]));
      INFO(f << " k=" << k);
      CHECK(s[static_cast<size_t>(k)] == Approx(want).epsilon(2e-6));
    }
  }
}
