// Samplers on the integer training timesteps in VP scaling (x = sqrt(ᾱ)·x0 + sqrt(1-ᾱ)·ε):
//   DDIM (Song et al. 2021, eq. 12, with eta), DDPM ancestral sampling (Ho et al. 2020, eq. 7,
//   variance "fixed_small") and PLMS (Liu et al. 2022, PNDM without the Runge–Kutta warm-up).
// All scalar coefficients are evaluated in float32, as diffusers' 0-d float32 tensors are.
#include <cmath>
#include <deque>

#include "ddim_family.h"
#include "scheduler_base.h"

namespace sdxl::schedulers {
namespace {

/// Integer timesteps for DDIM/DDPM: leading, linspace (rounded) or trailing.
std::vector<double> integer_timesteps(const SamplerConfig& c, std::int64_t n) {
  auto t = spaced_timesteps(c.timestep_spacing, c.train.num_train_timesteps, n, c.steps_offset);
  for (auto& v : t) v = round_half_even(v);
  return t;
}

class VpDiscrete : public SchedulerBase {
 public:
  using SchedulerBase::SchedulerBase;

 protected:
  std::int64_t stride() const { return cfg_.train.num_train_timesteps / num_steps_; }
  /// ᾱ at t, or the final value for t < 0 (1 with set_alpha_to_one, else ᾱ_0).
  float alpha_or_final(std::int64_t t) const {
    if (t >= 0) return static_cast<float>(ac_at(t));
    return cfg_.values.get_bool("set_alpha_to_one", false) ? 1.0f : static_cast<float>(ac_at(0));
  }
  /// (x0, ε) from the model output at ᾱ_t = a.
  std::pair<at::Tensor, at::Tensor> split(const at::Tensor& out, const at::Tensor& x, float a) const {
    const float sa = std::sqrt(a), sb = std::sqrt(1.0f - a);
    if (cfg_.prediction_type == "v_prediction") return {sa * x - sb * out, sa * out + sb * x};
    if (cfg_.prediction_type == "sample") return {out, (x - sa * out) / sb};
    return {(x - sb * out) / sa, out};
  }
};

class Ddim final : public VpDiscrete {
 public:
  using VpDiscrete::VpDiscrete;

 protected:
  void build() override { timesteps_ = timestep_tensor(integer_timesteps(cfg_, num_steps_), at::kLong); }
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x,
                          sdk::NoiseSource& noise) override {
    const auto t = static_cast<std::int64_t>(t_at(pos));
    const std::int64_t prev = t - stride();  // even for trailing spacing, as diffusers does
    const float a_t = static_cast<float>(ac_at(t)), a_prev = alpha_or_final(prev);
    const float b_t = 1.0f - a_t, b_prev = 1.0f - a_prev;
    auto [x0, eps] = split(out, x, a_t);
    const float variance = (b_prev / b_t) * (1.0f - a_t / a_prev);
    const float eta = static_cast<float>(cfg_.values.get_number("eta", 0.0));
    const float std_dev = eta * std::sqrt(variance);
    auto prev_sample = std::sqrt(a_prev) * x0 + std::sqrt(1.0f - a_prev - std_dev * std_dev) * eps;
    if (eta > 0) prev_sample = prev_sample + std_dev * draw(noise, out);
    return {prev_sample, x0};
  }
};

class Ddpm final : public VpDiscrete {
 public:
  using VpDiscrete::VpDiscrete;

 protected:
  void build() override { timesteps_ = timestep_tensor(integer_timesteps(cfg_, num_steps_), at::kLong); }
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x,
                          sdk::NoiseSource& noise) override {
    const auto t = static_cast<std::int64_t>(t_at(pos));
    const std::int64_t prev = t - stride();
    const float a_t = static_cast<float>(ac_at(t));
    const float a_prev = prev >= 0 ? static_cast<float>(ac_at(prev)) : 1.0f;
    const float b_t = 1.0f - a_t, b_prev = 1.0f - a_prev;
    const float cur_a = a_t / a_prev, cur_b = 1.0f - cur_a;
    auto x0 = split(out, x, a_t).first;
    const float c_x0 = (std::sqrt(a_prev) * cur_b) / b_t;
    const float c_x = std::sqrt(cur_a) * b_prev / b_t;
    auto prev_sample = c_x0 * x0 + c_x * x;
    if (t > 0) {
      const float variance = std::max(b_prev / b_t * cur_b, 1e-20f);
      prev_sample = prev_sample + std::sqrt(variance) * draw(noise, out);
    }
    return {prev_sample, x0};
  }
};

/// PLMS: timesteps t0, t1, t1, t2, …; call 1 redoes t0 → t1 with the mean of the first two
/// outputs; later calls use the Adams–Bashforth combination of up to four outputs.
class Pndm final : public VpDiscrete {
 public:
  using VpDiscrete::VpDiscrete;

 protected:
  void build() override {
    const auto& c = cfg_;
    const auto T = c.train.num_train_timesteps;
    std::vector<double> asc;  // ascending
    if (c.timestep_spacing == "leading") {
      for (std::int64_t k = 0; k < num_steps_; ++k) asc.push_back(static_cast<double>(k * (T / num_steps_) + c.steps_offset));
    } else {
      asc = integer_timesteps(c, num_steps_);
      std::reverse(asc.begin(), asc.end());
    }
    std::vector<double> plms(asc.begin(), asc.end() - 1);
    if (asc.size() >= 2) plms.push_back(asc[asc.size() - 2]);
    plms.push_back(asc.back());
    std::reverse(plms.begin(), plms.end());
    timesteps_ = timestep_tensor(plms, at::kLong);
    ets_.clear();
    counter_ = 0;
    cur_sample_ = at::Tensor();
  }
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x_in, sdk::NoiseSource&) override {
    auto t = static_cast<std::int64_t>(t_at(pos));
    std::int64_t prev = t - stride();
    if (counter_ != 1) {
      if (ets_.size() > 3) ets_.pop_front();
      ets_.push_back(out);
    } else {
      prev = t;
      t = t + stride();
    }
    at::Tensor e = out, x = x_in;
    const size_t n = ets_.size();
    if (n == 1 && counter_ == 0) {
      cur_sample_ = x;
    } else if (n == 1 && counter_ == 1) {
      e = (out + ets_[n - 1]) / 2;
      x = cur_sample_;
      cur_sample_ = at::Tensor();
    } else if (n == 2) {
      e = (3 * ets_[n - 1] - ets_[n - 2]) / 2;
    } else if (n == 3) {
      e = (23 * ets_[n - 1] - 16 * ets_[n - 2] + 5 * ets_[n - 3]) / 12;
    } else {
      e = (1.0 / 24) * (55 * ets_[n - 1] - 59 * ets_[n - 2] + 37 * ets_[n - 3] - 9 * ets_[n - 4]);
    }
    ++counter_;
    return {transfer(x, t, prev, e), at::Tensor()};
  }
  /// The deterministic DDIM transfer from timestep a to b written as PNDM's eq. (11).
  at::Tensor transfer(const at::Tensor& x, std::int64_t a, std::int64_t b, at::Tensor e) const {
    const float a_t = static_cast<float>(ac_at(a)), a_prev = alpha_or_final(b);
    const float b_t = 1.0f - a_t, b_prev = 1.0f - a_prev;
    if (cfg_.prediction_type == "v_prediction") e = std::sqrt(a_t) * e + std::sqrt(b_t) * x;
    const float sample_coeff = std::sqrt(a_prev / a_t);
    const float denom = a_t * std::sqrt(b_prev) + std::sqrt(a_t * b_t * a_prev);
    return sample_coeff * x - (a_prev - a_t) * e / denom;
  }
  std::deque<at::Tensor> ets_;
  std::int64_t counter_ = 0;
  at::Tensor cur_sample_;
};

}  // namespace

std::unique_ptr<sdk::Scheduler> make_ddim(const std::string& f, SamplerConfig c) {
  return std::make_unique<Ddim>(f, std::move(c));
}
std::unique_ptr<sdk::Scheduler> make_ddpm(const std::string& f, SamplerConfig c) {
  return std::make_unique<Ddpm>(f, std::move(c));
}
std::unique_ptr<sdk::Scheduler> make_pndm(const std::string& f, SamplerConfig c) {
  return std::make_unique<Pndm>(f, std::move(c));
}

}  // namespace sdxl::schedulers
