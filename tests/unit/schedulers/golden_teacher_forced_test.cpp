// Teacher-forced replay of every scheduler golden case (README section 11): each call gets the
// recorded input sample and model output, and x_in / x_next / x0 of that call are compared with
// the per-call tolerance. Also checks the schedule (timesteps, sigmas, init_noise_sigma) and,
// for img2img, the noised start sample.
#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include <cstdio>

#include "golden/case_files.h"
#include "golden/compare.h"
#include "golden/runner.h"
#include "golden/scheduler_golden.h"
#include "noise/replay_noise.h"
#include "scheduler_test_support.h"
#include "schedulers/sampling_params.h"

using namespace sdxl;
using nlohmann::json;

namespace {

std::string call_name(std::int64_t i, const char* what) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "call_%03lld_%s", static_cast<long long>(i), what);
  return buf;
}

/// Returns "" when the case passes, else what failed first.
std::string teacher_forced(const golden::GoldenCase& c) {
  const json& m = c.manifest;
  auto choice = golden::scheduler_choice_for(m);
  if (!choice.ok()) return choice.status().message();
  auto created = test::create_scheduler(choice.value().feature, choice.value().options);
  if (!created.ok()) return created.status().message();
  auto& s = *created.value();
  const auto steps = m["num_inference_steps"].get<std::int64_t>();
  if (auto st = s.set_timesteps(steps); !st.ok()) return st.message();
  const bool img2img = m["variant"] == "img2img";
  if (img2img) {
    auto ts = schedulers::apply_img2img_strength(s, steps, m["img2img"]["strength"].get<double>());
    if (!ts.ok()) return ts.status().message();
    if (ts.value() != m["img2img"]["t_start"].get<std::int64_t>()) return "t_start differs";
  }
  auto T = [&](const std::string& n) { return c.tensors->tensor(n).value(); };
  const auto& tol = m["tolerances"];
  const double t_abs = tol["schedule"]["timesteps_abs"].get<double>();
  const double s_rtol = tol["schedule"]["sigmas_rtol"].get<double>();
  const double atol = tol["teacher_forced_per_call"]["atol"].get<double>();
  const double rtol = tol["teacher_forced_per_call"]["rtol"].get<double>();

  auto fail = [](const std::string& name, const golden::Deviation& d) { return golden::describe(name, d); };
  if (s.timesteps().scalar_type() != T("timesteps").scalar_type()) return "timesteps dtype differs";
  if (auto d = golden::compare_tensors(s.timesteps(), T("timesteps"), t_abs, 0.0); !d.ok) return fail("timesteps", d);
  if (c.tensors->contains("sigmas")) {
    if (auto d = golden::compare_tensors(s.sigmas(), T("sigmas"), 0.0, s_rtol); !d.ok) return fail("sigmas", d);
  } else if (s.sigmas().defined()) {
    return "scheduler has a sigma table where the reference has none";
  }
  if (!img2img) {
    at::Tensor ins = at::full({1}, s.init_noise_sigma(), at::kDouble);
    if (auto d = golden::compare_tensors(ins, T("init_noise_sigma"), 0.0, 1e-6); !d.ok) return fail("init_noise_sigma", d);
  } else {
    auto x0 = s.add_noise(T("x0_clean"), T("noise_init"), 0);
    if (!x0.ok()) return x0.status().message();
    if (auto d = golden::compare_tensors(x0.value(), T("x_start"), atol, rtol); !d.ok) return fail("x_start", d);
  }
  std::vector<std::vector<at::Tensor>> draws;
  for (const auto& call : m["calls"]) {
    draws.emplace_back();
    for (const auto& k : call["draws"]) {
      char n[32];
      std::snprintf(n, sizeof n, "draw_%03lld", static_cast<long long>(k.get<std::int64_t>()));
      draws.back().push_back(T(n));
    }
  }
  noise::ReplayNoise noise(draws);
  const auto n_calls = m["num_model_calls"].get<std::int64_t>();
  if (s.timesteps().size(0) != n_calls) return "number of calls differs";
  at::Tensor x = T("x_start");
  for (std::int64_t i = 0; i < n_calls; ++i) {
    noise.begin_call(i);
    auto x_in = s.scale_model_input(x, i);
    if (!x_in.ok()) return x_in.status().message();
    if (auto d = golden::compare_tensors(x_in.value(), T(call_name(i, "x_in")), atol, rtol); !d.ok)
      return fail(call_name(i, "x_in"), d);
    auto r = s.step(T(call_name(i, "out")), i, x, noise);
    if (!r.ok()) return r.status().message();
    if (auto d = golden::compare_tensors(r.value().prev_sample, T(call_name(i, "x_next")), atol, rtol); !d.ok)
      return fail(call_name(i, "x_next"), d);
    if (c.tensors->contains(call_name(i, "x0"))) {
      if (auto d = golden::compare_tensors(r.value().denoised, T(call_name(i, "x0")), atol, rtol); !d.ok)
        return fail(call_name(i, "x0"), d);
    }
    x = T(call_name(i, "x_next"));
  }
  if (!noise.error().empty()) return noise.error();
  return "";
}

}  // namespace

TEST_CASE("every scheduler golden case passes teacher-forced per call", "[schedulers][golden]") {
  const auto dir = test::scheduler_golden_dir();
  if (!std::filesystem::exists(dir)) {
    WARN("SKIP: scheduler goldens not found at " << dir);
    return;
  }
  int cases = 0;
  for (const auto& file : golden::list_case_files(dir)) {
    if (file.extension() != ".safetensors") continue;
    auto c = golden::load_case(file);
    REQUIRE(c.ok());
    ++cases;
    const auto problem = teacher_forced(c.value());
    INFO(file.filename().string() << ": " << problem);
    CHECK(problem.empty());
  }
  CHECK(cases == 58);
}

TEST_CASE("every scheduler golden case passes closed-loop from a stripped copy", "[schedulers][golden]") {
  const auto dir = test::scheduler_golden_dir();
  if (!std::filesystem::exists(dir)) {
    WARN("SKIP: scheduler goldens not found at " << dir);
    return;
  }
  golden::SchedulerGoldenHandler handler([](const schedulers::SchedulerChoice& ch) {
    return test::create_scheduler(ch.feature, ch.options);
  });
  int passed = 0, total = 0;
  for (const auto& file : golden::list_case_files(dir)) {
    auto c = golden::load_case(file);
    REQUIRE(c.ok());
    if (!handler.accepts(c.value())) continue;
    ++total;
    auto outcome = golden::run_case(c.value(), handler, golden::GoldenOptions{}, false);
    INFO(outcome.name << ": " << outcome.summary);
    CHECK(outcome.passed);
    passed += outcome.passed ? 1 : 0;
  }
  CHECK(total == 58);
  CHECK(passed == total);
}
