// One model call per step in σ scaling: Euler (Karras et al. 2022, Alg. 2 with churn), Euler
// ancestral (k-diffusion sample_euler_ancestral) and LMS (k-diffusion sample_lms, order 4).
#include <cmath>
#include <deque>

#include "kdiffusion_samplers.h"
#include "sigma_sampler.h"

namespace sdxl::schedulers {
namespace {

/// Builds the N+1 table (σ_0 … σ_{N-1}, 0) and float timesteps shared by the single-stage samplers.
class SingleStage : public SigmaSampler {
 public:
  using SigmaSampler::SigmaSampler;

 protected:
  void build_single() {
    build_sigma_steps();
    auto s = sigma_steps_;
    s.push_back(0.0);
    set_table(float_tensor(s));
    timesteps_ = timestep_tensor(t_steps_, cfg_.sigma_schedule == "default" ? at::kFloat : custom_schedule_dtype_);
  }
};

class Euler final : public SingleStage {
 public:
  using SingleStage::SingleStage;

 protected:
  void build() override { build_single(); }
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x_in,
                          sdk::NoiseSource& noise) override {
    const auto& o = cfg_.values;
    const float sigma = table_[static_cast<size_t>(pos)];
    const float sigma_next = table_[static_cast<size_t>(pos) + 1];
    const double churn = o.get_number("s_churn", 0.0);
    float gamma = 0.0f;
    if (churn > 0 && o.get_number("s_tmin", 0.0) <= sigma && sigma <= o.get_number("s_tmax", 1e30))
      gamma = static_cast<float>(std::min(churn / static_cast<double>(table_.size() - 1), std::sqrt(2.0) - 1.0));
    const float sigma_hat = sigma * (gamma + 1.0f);
    at::Tensor x = x_in;
    if (gamma > 0) {  // diffusers draws every step; with zero churn the draw has no effect, so skip it
      auto eps = draw(noise, out) * static_cast<float>(o.get_number("s_noise", 1.0));
      x = x + eps * std::sqrt(sigma_hat * sigma_hat - sigma * sigma);
    }
    // v-prediction uses σ (not σ̂) in diffusers; with zero churn they coincide.
    auto x0 = predict_x0(out, x, cfg_.prediction_type == "epsilon" ? sigma_hat : sigma);
    auto d = (x - x0) / sigma_hat;
    const float dt = sigma_next - sigma_hat;
    return {x + d * dt, x0};
  }
};

class EulerAncestral final : public SingleStage {
 public:
  using SingleStage::SingleStage;

 protected:
  void build() override { build_single(); }
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x,
                          sdk::NoiseSource& noise) override {
    const float from = table_[static_cast<size_t>(pos)];
    const float to = table_[static_cast<size_t>(pos) + 1];
    auto x0 = predict_x0(out, x, from);
    const float up = std::sqrt(to * to * (from * from - to * to) / (from * from));
    const float down = std::sqrt(to * to - up * up);
    auto d = (x - x0) / from;
    auto prev = x + d * (down - from);
    if (up > 0) prev = prev + draw(noise, out) * (up * static_cast<float>(cfg_.values.get_number("s_noise", 1.0)));
    return {prev, x0};
  }
};

class Lms final : public SingleStage {
 public:
  Lms(std::string f, SamplerConfig c) : SingleStage(std::move(f), std::move(c)) { custom_schedule_dtype_ = at::kDouble; }

 protected:
  static constexpr int kMaxOrder = 4;
  void build() override {
    build_single();
    derivatives_.clear();
  }
  /// ∫_{σ_pos}^{σ_pos+1} of the Lagrange basis polynomial over σ_pos, σ_pos-1, … that is 1 at
  /// σ_{pos-j}. Degree < 4, so 3-point Gauss–Legendre is exact.
  double coefficient(int order, std::int64_t pos, int j) const {
    auto sig = [&](std::int64_t i) { return static_cast<double>(table_[static_cast<size_t>(i)]); };
    auto basis = [&](double tau) {
      double prod = 1.0;
      for (int k = 0; k < order; ++k) {
        if (k == j) continue;
        prod *= (tau - sig(pos - k)) / (sig(pos - j) - sig(pos - k));
      }
      return prod;
    };
    const double a = sig(pos), b = sig(pos + 1);
    const double half = 0.5 * (b - a), mid = 0.5 * (a + b);
    const double node = std::sqrt(3.0 / 5.0);
    return half * (5.0 / 9.0 * basis(mid - half * node) + 8.0 / 9.0 * basis(mid) + 5.0 / 9.0 * basis(mid + half * node));
  }
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x, sdk::NoiseSource&) override {
    const float sigma = table_[static_cast<size_t>(pos)];
    auto x0 = predict_x0(out, x, sigma);
    derivatives_.push_back((x - x0) / sigma);
    if (derivatives_.size() > kMaxOrder) derivatives_.pop_front();
    const int order = static_cast<int>(std::min<std::int64_t>(pos + 1, kMaxOrder));
    // As diffusers: coefficients for `order`, zipped with the (possibly shorter) history.
    const int used = std::min(order, static_cast<int>(derivatives_.size()));
    at::Tensor acc;
    for (int j = 0; j < used; ++j) {
      auto term = derivatives_[derivatives_.size() - 1 - static_cast<size_t>(j)] * coefficient(order, pos, j);
      acc = j == 0 ? term : acc + term;
    }
    return {x + acc, x0};
  }
  std::deque<at::Tensor> derivatives_;  // d = (x - x0)/σ, oldest first
};

}  // namespace

std::unique_ptr<sdk::Scheduler> make_euler(const std::string& f, SamplerConfig c) {
  return std::make_unique<Euler>(f, std::move(c));
}
std::unique_ptr<sdk::Scheduler> make_euler_ancestral(const std::string& f, SamplerConfig c) {
  return std::make_unique<EulerAncestral>(f, std::move(c));
}
std::unique_ptr<sdk::Scheduler> make_lms(const std::string& f, SamplerConfig c) {
  return std::make_unique<Lms>(f, std::move(c));
}

}  // namespace sdxl::schedulers
