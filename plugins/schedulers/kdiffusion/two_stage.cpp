// Two model calls per step in σ scaling, listed as separate calls (2N-1 in all):
//   Heun  — Karras et al. (2022) Alg. 1 (second-order trapezoid), diffusers HeunDiscreteScheduler;
//   DPM2  — k-diffusion sample_dpm_2 (midpoint at the geometric mean σ), KDPM2DiscreteScheduler;
//   DPM2a — k-diffusion sample_dpm_2_ancestral, KDPM2AncestralDiscreteScheduler.
// The stage of a call is known from the saved first-stage sample, as in diffusers.
#include <cmath>

#include "kdiffusion_samplers.h"
#include "sigma_sampler.h"

namespace sdxl::schedulers {
namespace {

/// [a0, a1, a1, a2, a2, …] as diffusers builds its doubled tables: a[:1], a[from:to] twice, a[-1:].
at::Tensor expand(const at::Tensor& a, bool keep_last_once) {
  const auto n = a.size(0);
  auto mid = keep_last_once ? a.slice(0, 1, n - 1) : a.slice(0, 1, n);
  return at::cat({a.slice(0, 0, 1), mid.repeat_interleave(2), a.slice(0, n - 1, n)});
}

class TwoStage : public SigmaSampler {
 public:
  using SigmaSampler::SigmaSampler;
  std::int64_t order() const override { return 2; }

 protected:
  bool first_stage() const { return !saved_.defined(); }
  /// σ_0 … σ_{N-1}, 0 as float32 [N+1].
  at::Tensor step_sigmas() {
    build_sigma_steps();
    auto s = sigma_steps_;
    s.push_back(0.0);
    return float_tensor(s);
  }
  float at_(const std::vector<float>& v, std::int64_t i) const { return v[static_cast<size_t>(i)]; }
  at::Tensor saved_;  // the first-stage input sample
};

class Heun final : public TwoStage {
 public:
  Heun(std::string f, SamplerConfig c) : TwoStage(std::move(f), std::move(c)) { custom_schedule_dtype_ = at::kDouble; }

 protected:
  void build() override {
    set_table(expand(step_sigmas(), true));  // 2N entries
    std::vector<double> t{t_steps_.front()};
    for (size_t k = 1; k < t_steps_.size(); ++k) t.insert(t.end(), {t_steps_[k], t_steps_[k]});
    timesteps_ = timestep_tensor(t, cfg_.sigma_schedule == "default" ? at::kFloat : custom_schedule_dtype_);
    saved_ = at::Tensor();
    d1_ = at::Tensor();
  }
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x, sdk::NoiseSource&) override {
    if (first_stage()) {
      const float sigma = at_(table_, pos), sigma_next = at_(table_, pos + 1);
      auto x0 = predict_x0(out, x, sigma);
      d1_ = (x - x0) / sigma;
      dt_ = sigma_next - sigma;
      saved_ = x;
      return {x + d1_ * dt_, x0};
    }
    const float sigma_next = at_(table_, pos);
    auto x0 = predict_x0(out, x, sigma_next);
    auto d = ((x - x0) / sigma_next + d1_) / 2;
    auto prev = saved_ + d * dt_;
    saved_ = at::Tensor();
    d1_ = at::Tensor();
    return {prev, x0};
  }
  at::Tensor d1_;
  float dt_ = 0.0f;
};

class Dpm2 final : public TwoStage {
 public:
  Dpm2(std::string f, SamplerConfig c) : TwoStage(std::move(f), std::move(c)) { custom_schedule_dtype_ = at::kDouble; }

 protected:
  void build() override {
    auto s = step_sigmas();                                         // [N+1]
    auto interp = s.log().lerp(s.roll(1).log(), 0.5).exp();         // √(σ_{k-1}σ_k) at k
    set_table(expand(s, false));                                     // 2N+2
    auto it = expand(interp, false).contiguous();
    interp_.assign(it.data_ptr<float>(), it.data_ptr<float>() + it.numel());
    const bool custom = cfg_.sigma_schedule != "default";
    auto tk = t_steps_;
    if (custom)
      for (auto& v : tk) v = round_half_even(v);  // KDPM2 rounds non-default schedules' timesteps
    auto ip = interp.contiguous();
    std::vector<double> t{tk.front()};
    for (size_t k = 1; k < tk.size(); ++k) {
      t.push_back(sigma_to_t(ip.data_ptr<float>()[k], log_sigmas_));
      t.push_back(tk[k]);
    }
    timesteps_ = timestep_tensor(t, custom ? custom_schedule_dtype_ : at::kFloat);
    saved_ = at::Tensor();
  }
  at::Tensor scale(const at::Tensor& x, std::int64_t pos) override {
    const float s = first_stage() ? at_(table_, pos) : at_(interp_, pos);
    return x / std::sqrt(s * s + 1.0f);
  }
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x, sdk::NoiseSource&) override {
    if (first_stage()) {
      const float sigma = at_(table_, pos), mid = at_(interp_, pos + 1);
      auto x0 = predict_x0(out, x, sigma);
      auto d = (x - x0) / sigma;
      saved_ = x;
      return {x + d * (mid - sigma), x0};
    }
    const float sigma = at_(table_, pos - 1), mid = at_(interp_, pos), sigma_next = at_(table_, pos);
    auto x0 = predict_x0(out, x, mid);
    auto d = (x - x0) / mid;
    auto prev = saved_ + d * (sigma_next - sigma);
    saved_ = at::Tensor();
    return {prev, x0};
  }
  std::vector<float> interp_;
};

class Dpm2Ancestral final : public TwoStage {
 public:
  Dpm2Ancestral(std::string f, SamplerConfig c) : TwoStage(std::move(f), std::move(c)) {
    custom_schedule_dtype_ = at::kDouble;
  }

 protected:
  void build() override {
    auto s = step_sigmas();  // [N+1]
    auto next = s.roll(-1);
    next[-1] = 0.0;
    auto up = (next.pow(2) * (s.pow(2) - next.pow(2)) / s.pow(2)).pow(0.5);
    auto down = (next.pow(2) - up.pow(2)).pow(0.5);
    down[-1] = 0.0;
    auto interp = s.log().lerp(down.log(), 0.5).exp();  // midpoint of σ_k → σdown_k
    interp.slice(0, -2).fill_(0.0);
    set_table(expand(s, false));
    auto copy = [](const at::Tensor& a, std::vector<float>& v) {
      auto e = expand(a, false).contiguous();
      v.assign(e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
    };
    copy(interp, interp_);
    copy(up, up_);
    copy(down, down_);
    const bool custom = cfg_.sigma_schedule != "default";
    auto tk = t_steps_;
    if (custom)
      for (auto& v : tk) v = round_half_even(v);
    auto ip = interp.contiguous();
    std::vector<double> t{tk.front()};
    for (size_t k = 1; k < tk.size(); ++k) {
      t.push_back(sigma_to_t(ip.data_ptr<float>()[k - 1], log_sigmas_));
      t.push_back(tk[k]);
    }
    timesteps_ = timestep_tensor(t, custom ? custom_schedule_dtype_ : at::kFloat);
    saved_ = at::Tensor();
  }
  at::Tensor scale(const at::Tensor& x, std::int64_t pos) override {
    const float s = first_stage() ? at_(table_, pos) : at_(interp_, pos - 1);
    return x / std::sqrt(s * s + 1.0f);
  }
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x,
                          sdk::NoiseSource& noise) override {
    if (first_stage()) {  // diffusers draws here too, but never uses it
      const float sigma = at_(table_, pos), mid = at_(interp_, pos);
      auto x0 = predict_x0(out, x, sigma);
      auto d = (x - x0) / sigma;
      saved_ = x;
      return {x + d * (mid - sigma), x0};
    }
    const float sigma = at_(table_, pos - 1), mid = at_(interp_, pos - 1);
    const float up = at_(up_, pos - 1), down = at_(down_, pos - 1);
    auto x0 = predict_x0(out, x, mid);
    auto d = (x - x0) / mid;
    auto prev = saved_ + d * (down - sigma);
    saved_ = at::Tensor();
    prev = prev + draw(noise, out) * (up * static_cast<float>(cfg_.values.get_number("s_noise", 1.0)));
    return {prev, x0};
  }
  std::vector<float> interp_, up_, down_;
};

}  // namespace

std::unique_ptr<sdk::Scheduler> make_heun(const std::string& f, SamplerConfig c) {
  return std::make_unique<Heun>(f, std::move(c));
}
std::unique_ptr<sdk::Scheduler> make_dpm2(const std::string& f, SamplerConfig c) {
  return std::make_unique<Dpm2>(f, std::move(c));
}
std::unique_ptr<sdk::Scheduler> make_dpm2_ancestral(const std::string& f, SamplerConfig c) {
  return std::make_unique<Dpm2Ancestral>(f, std::move(c));
}

}  // namespace sdxl::schedulers
