#include "golden/scheduler_golden.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>

#include "golden/compare.h"
#include "noise/replay_noise.h"
#include "plugins/registry.h"
#include "schedulers/sampling_params.h"

namespace sdxl::golden {

namespace {

using nlohmann::json;

std::string call_name(std::int64_t i, const char* what) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "call_%03lld_%s", static_cast<long long>(i), what);
  return buf;
}

std::string case_file(const GoldenCase& c) { return c.file.filename().string(); }

sdk::Result<at::Tensor> need_tensor(const GoldenCase& c, const std::string& name) {
  if (!c.tensors || !c.tensors->contains(name)) return sdk::not_found(case_file(c) + ": tensor '" + name + "' missing");
  return c.tensors->tensor(name);
}

double number_or(const json& j, const char* key, double fallback) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}

}  // namespace

SchedulerFactory registry_scheduler_factory(const plugins::PluginRegistry& registry) {
  return [&registry](const schedulers::SchedulerChoice& ch) -> sdk::Result<std::unique_ptr<sdk::Scheduler>> {
    const auto* entry = registry.find(sdk::FeatureKind::scheduler, ch.feature);
    if (!entry) return sdk::not_found("no scheduler feature '" + ch.feature + "' is loaded");
    auto fitted = schedulers::fit_to_schema(ch.options, entry->info.options, ch.feature);
    if (!fitted.ok()) return fitted.status();
    return registry.create_scheduler(ch.feature, &fitted.value());
  };
}

sdk::Result<schedulers::SchedulerChoice> scheduler_choice_for(const json& m) {
  if (!m.contains("scheduler_class") || !m["scheduler_class"].is_string())
    return sdk::corrupt_data("manifest has no scheduler_class");
  // Effective configuration: base config, then overrides, then the recorded effective config.
  json cfg = json::object();
  for (const char* part : {"base_config", "overrides", "config"})
    if (m.contains(part) && m[part].is_object())
      for (auto it = m[part].begin(); it != m[part].end(); ++it) cfg[it.key()] = it.value();
  const json kwargs = m.contains("step_kwargs") ? m["step_kwargs"] : json::object();
  return schedulers::from_diffusers_config(cfg, m["scheduler_class"].get<std::string>(), kwargs);
}

at::Tensor scheduler_stand_in(const at::Tensor& x_in, double t, double a, double b) {
  constexpr double kPi = 3.14159265358979323846;  // math.pi
  const double bias = b * std::sin((kPi * t) / 1000.0);
  return (x_in.to(at::kDouble).tanh() * a + bias).to(at::kFloat);
}

bool SchedulerGoldenHandler::accepts(const GoldenCase& c) const {
  const auto& m = c.manifest;
  if (!m.is_object() || !c.tensors) return false;
  if (m.contains("format") && m["format"] == "sdxl-scheduler-golden") return true;
  const auto& meta = c.tensors->metadata();
  auto it = meta.find("format");
  if (it != meta.end() && it->second == "sdxl-scheduler-golden") return true;
  return m.contains("scheduler_class") && m.contains("num_inference_steps");
}

std::set<std::string> SchedulerGoldenHandler::allowed_manifest_keys(const GoldenCase&) const {
  return {"case",        "variant",       "scheduler_class",  "base_config", "overrides",      "config",
          "num_inference_steps", "step_kwargs", "latent_shape", "stand_in",    "img2img.strength", "calls[].draws",
          "draw_call_index"};
}

std::set<std::string> SchedulerGoldenHandler::allowed_tensors(const GoldenCase& c) const {
  std::set<std::string> names{"noise_init", "x0_clean"};
  if (c.tensors)
    for (const auto& e : c.tensors->entries())
      if (e.name.rfind("draw_", 0) == 0) names.insert(e.name);
  return names;
}

sdk::Result<TensorList> SchedulerGoldenHandler::replay(const GoldenCase& c, const GoldenOptions& opts,
                                                       json* json_out) const {
  const json& m = c.manifest;
  auto choice = scheduler_choice_for(m);
  if (!choice.ok()) return choice.status();
  SchedulerFactory factory = factory_;
  if (!factory) {
    if (!opts.registry) return sdk::internal_error("scheduler golden replay needs the plugin registry");
    factory = registry_scheduler_factory(*opts.registry);
  }
  auto created = factory(choice.value());
  if (!created.ok()) return created.status();
  auto& s = *created.value();
  if (!m.contains("num_inference_steps")) return sdk::corrupt_data(case_file(c) + ": num_inference_steps missing");
  const auto steps = m["num_inference_steps"].get<std::int64_t>();
  if (auto st = s.set_timesteps(steps); !st.ok()) return st;

  // Latents live on opts.device (schedulers compute in float32 whatever opts.dtype says).
  auto noise_init = need_tensor(c, "noise_init");
  if (!noise_init.ok()) return noise_init.status();
  const at::Tensor initial_noise = noise_init.value().to(opts.device);
  at::Tensor x;
  const bool img2img = m.value("variant", std::string("txt2img")) == "img2img";
  if (img2img) {
    const double strength = m.contains("img2img") ? number_or(m["img2img"], "strength", 1.0) : 1.0;
    auto t_start = schedulers::apply_img2img_strength(s, steps, strength);
    if (!t_start.ok()) return t_start.status();
    auto clean = need_tensor(c, "x0_clean");
    if (!clean.ok()) return clean.status();
    auto noised = s.add_noise(clean.value().to(opts.device), initial_noise, 0);
    if (!noised.ok()) return noised.status();
    x = noised.value();
  } else {
    x = initial_noise * static_cast<float>(s.init_noise_sigma());
  }

  // Recorded draws, grouped per call.
  std::vector<std::vector<at::Tensor>> per_call;
  if (m.contains("calls") && m["calls"].is_array()) {
    for (const auto& call : m["calls"]) {
      per_call.emplace_back();
      if (!call.contains("draws")) continue;
      for (const auto& k : call["draws"]) {
        char name[32];
        std::snprintf(name, sizeof name, "draw_%03lld", static_cast<long long>(k.get<std::int64_t>()));
        auto d = need_tensor(c, name);
        if (!d.ok()) return d.status();
        per_call.back().push_back(d.value());
      }
    }
  }
  noise::ReplayNoise noise(std::move(per_call));
  const double a = number_or(m.value("stand_in", json::object()), "a", 0.9);
  const double b = number_or(m.value("stand_in", json::object()), "b", 0.15);

  TensorList outs;
  const at::Tensor ts = s.timesteps();
  outs.emplace_back("timesteps", ts.clone());
  if (s.sigmas().defined()) outs.emplace_back("sigmas", s.sigmas().clone());
  const auto ts_d = ts.to(at::kCPU, at::kDouble).contiguous();
  for (std::int64_t i = 0; i < ts.size(0); ++i) {
    noise.begin_call(i);
    auto x_in = s.scale_model_input(x, i);
    if (!x_in.ok()) return x_in.status();
    auto out = scheduler_stand_in(x_in.value(), ts_d.data_ptr<double>()[i], a, b);
    auto r = s.step(out, i, x, noise);
    if (!r.ok()) return r.status();
    outs.emplace_back(call_name(i, "x_in"), x_in.value());
    outs.emplace_back(call_name(i, "out"), out);
    outs.emplace_back(call_name(i, "x_next"), r.value().prev_sample);
    if (r.value().denoised.defined()) outs.emplace_back(call_name(i, "x0"), r.value().denoised);
    x = r.value().prev_sample;
  }
  outs.emplace_back("final", x);
  if (!noise.error().empty())
    return sdk::invalid_argument(case_file(c) + ": semantic difference in random draws: " + noise.error());
  if (json_out) (*json_out)["feature"] = choice.value().feature;
  return outs;
}

CompareReport SchedulerGoldenHandler::compare(const GoldenCase& full, const TensorList& produced, const json&) const {
  CompareReport rep;
  const json& m = full.manifest;
  const json tol = m.value("tolerances", json::object());
  const json sched = tol.value("schedule", json::object());
  const json loop = tol.value("closed_loop", json::object());
  const double t_abs = number_or(sched, "timesteps_abs", 0.0);
  const double s_rtol = number_or(sched, "sigmas_rtol", 2e-6);
  const double atol = number_or(loop, "atol", 1e-4), rtol = number_or(loop, "rtol", 1e-4);

  std::map<std::string, at::Tensor> got(produced.begin(), produced.end());
  WorstTracker worst;
  std::string problems;
  auto check = [&](const std::string& name, double a, double r, bool required) {
    if (!full.tensors->contains(name)) return;
    auto want = full.tensors->tensor(name);
    auto it = got.find(name);
    if (it == got.end()) {
      if (required) {
        Deviation d;
        d.ok = false;
        d.problem = "not produced";
        worst.add(name, d);
      }
      return;
    }
    worst.add(name, compare_tensors(it->second, want.value(), a, r));
  };
  // Schedule: integer timesteps exactly, in the reference dtype.
  if (auto it = got.find("timesteps"); it != got.end() && full.tensors->contains("timesteps")) {
    auto want = full.tensors->tensor("timesteps").value();
    if (it->second.scalar_type() != want.scalar_type()) {
      Deviation d;
      d.ok = false;
      d.problem = std::string("dtype ") + c10::toString(it->second.scalar_type()) + " but expected " +
                  c10::toString(want.scalar_type());
      worst.add("timesteps", d);
    }
  }
  check("timesteps", t_abs, 0.0, true);
  check("sigmas", 0.0, s_rtol, true);
  const std::int64_t n_calls = m.value("num_model_calls", static_cast<std::int64_t>(m.value("calls", json::array()).size()));
  for (std::int64_t i = 0; i < n_calls; ++i) {
    check(call_name(i, "x_in"), atol, rtol, true);
    check(call_name(i, "out"), atol, rtol, true);
    check(call_name(i, "x_next"), atol, rtol, true);
    check(call_name(i, "x0"), atol, rtol, true);
  }
  if (got.count(call_name(n_calls, "x_next"))) {
    Deviation d;
    d.ok = false;
    d.problem = "more model calls than the reference (" + std::to_string(n_calls) + ")";
    worst.add("calls", d);
  }
  check("final", atol, rtol, true);
  rep.passed = !worst.any_failed && !worst.name.empty();
  rep.summary = worst.name.empty() ? "nothing to compare" : "worst " + describe(worst.name, worst.dev);
  return rep;
}

}  // namespace sdxl::golden
