// Few-step consistency samplers on the LCM timestep grid (T/original_steps spacing):
//   LCM (Luo et al. 2023, multistep consistency sampling) and TCD (Zheng et al. 2024, strategic
//   stochastic sampling with gamma = eta). Both end on a deterministic last call.
#include <cmath>

#include "ddim_family.h"
#include "scheduler_base.h"

namespace sdxl::schedulers {
namespace {

class ConsistencyBase : public SchedulerBase {
 public:
  using SchedulerBase::SchedulerBase;

 protected:
  void build() override {
    const auto orig = cfg_.values.get_int("original_inference_steps", 50);
    const auto T = cfg_.train.num_train_timesteps;
    if (orig > T) throw std::invalid_argument("original_inference_steps must be <= num_train_timesteps");
    if (num_steps_ > orig)
      throw std::invalid_argument("steps (" + std::to_string(num_steps_) + ") must be <= original_inference_steps (" +
                                  std::to_string(orig) + ")");
    timesteps_ = timestep_tensor(lcm_timesteps(T, orig, num_steps_), at::kLong);
  }
  float alpha_or_final(std::int64_t t) const {
    if (t >= 0) return static_cast<float>(ac_at(t));
    return cfg_.values.get_bool("set_alpha_to_one", false) ? 1.0f : static_cast<float>(ac_at(0));
  }
  bool last_call(std::int64_t pos) const { return pos == num_steps_ - 1; }
};

class Lcm final : public ConsistencyBase {
 public:
  using ConsistencyBase::ConsistencyBase;

 protected:
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x,
                          sdk::NoiseSource& noise) override {
    const auto t = static_cast<std::int64_t>(t_at(pos));
    const auto prev_t = pos + 1 < num_calls() ? static_cast<std::int64_t>(t_at(pos + 1)) : t;
    const float a_prev = alpha_or_final(prev_t);
    // Boundary condition c_skip/c_out with sigma_data = 0.5, in float32 from the integer t.
    const float scaled = static_cast<float>(t) * static_cast<float>(cfg_.values.get_number("timestep_scaling", 10.0));
    const float c_skip = 0.25f / (scaled * scaled + 0.25f);
    const float c_out = scaled / std::sqrt(scaled * scaled + 0.25f);
    auto x0 = vp_x0(out, x, ac_at(t));
    auto denoised = c_out * x0 + c_skip * x;
    if (last_call(pos)) return {denoised, denoised};
    auto prev = std::sqrt(a_prev) * denoised + std::sqrt(1.0f - a_prev) * draw(noise, out);
    return {prev, denoised};
  }
};

class Tcd final : public ConsistencyBase {
 public:
  using ConsistencyBase::ConsistencyBase;

 protected:
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x,
                          sdk::NoiseSource& noise) override {
    const auto t = static_cast<std::int64_t>(t_at(pos));
    const auto prev_t = pos + 1 < num_calls() ? static_cast<std::int64_t>(t_at(pos + 1)) : 0;
    const double eta = cfg_.values.get_number("eta", 0.3);
    // s = floor((1 - eta) * prev) evaluated in float32, as torch does with an int64 tensor.
    const auto s = static_cast<std::int64_t>(std::floor(static_cast<float>(1.0 - eta) * static_cast<float>(prev_t)));
    const float a_t = static_cast<float>(ac_at(t)), a_s = static_cast<float>(ac_at(s));
    const float sa_t = std::sqrt(a_t), sb_t = std::sqrt(1.0f - a_t);
    at::Tensor x0, eps;
    if (cfg_.prediction_type == "v_prediction") {
      x0 = sa_t * x - sb_t * out;
      eps = sa_t * out + sb_t * x;
    } else if (cfg_.prediction_type == "sample") {
      x0 = out;
      eps = (x - sa_t * x0) / sb_t;
    } else {
      x0 = (x - sb_t * out) / sa_t;
      eps = out;
    }
    auto pred_noised = std::sqrt(a_s) * x0 + std::sqrt(1.0f - a_s) * eps;
    if (eta <= 0 || last_call(pos)) return {pred_noised, x0};
    const float ratio = alpha_or_final(prev_t) / a_s;
    return {std::sqrt(ratio) * pred_noised + std::sqrt(1.0f - ratio) * draw(noise, out), x0};
  }
};

}  // namespace

std::unique_ptr<sdk::Scheduler> make_lcm(const std::string& f, SamplerConfig c) {
  return std::make_unique<Lcm>(f, std::move(c));
}
std::unique_ptr<sdk::Scheduler> make_tcd(const std::string& f, SamplerConfig c) {
  return std::make_unique<Tcd>(f, std::move(c));
}

}  // namespace sdxl::schedulers
