// DPM-Solver++(2S) ancestral in σ scaling (k-diffusion sample_dpmpp_2s_ancestral; A1111
// "DPM++ 2S a", ComfyUI "dpmpp_2s_ancestral"). Step i splits σ_i → σ_{i+1} into a deterministic
// part to σ_down and fresh noise of size σ_up (as Euler a), and takes the deterministic part with
// the second-order singlestep exponential integrator in λ = −log σ, whose midpoint is
// σ_mid = √(σ_i σ_down):
//   x₂ = (σ_mid/σ_i)·x − expm1(−h/2)·D(x, σ_i),      h = log(σ_i/σ_down)
//   x' = (σ_down/σ_i)·x − expm1(−h)·D(x₂, σ_mid) + σ_up·s_noise·z
// When σ_down = 0 (the last step) the step is one Euler call. The two model calls of a step are
// listed as separate calls (2N−1 in all, order 2, like Heun): call 2i evaluates at σ_i, call
// 2i+1 at σ_mid of step i.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kdiffusion_samplers.h"
#include "sigma_sampler.h"

namespace sdxl::schedulers {
namespace {

class DpmppTwoSAncestral final : public SigmaSampler {
 public:
  using SigmaSampler::SigmaSampler;
  std::int64_t order() const override { return 2; }

 protected:
  struct Call {
    std::int64_t step;  // index i of the σ step
    bool second;        // the midpoint evaluation of step i
  };

  void build() override {
    build_sigma_steps();
    auto s = sigma_steps_;
    s.push_back(0.0);
    set_table(float_tensor(s));  // σ_0 … σ_{N-1}, 0: float32 [N+1]
    const double eta = cfg_.values.get_number("eta", 1.0);
    steps_.clear();
    calls_.clear();
    std::vector<double> t;
    for (size_t i = 0; i + 1 < table_.size(); ++i) {
      const double from = table_[i], to = table_[i + 1];
      Step st;
      // k-diffusion get_ancestral_step: σ_up = min(σ_to, η·√(σ_to²(σ_from² − σ_to²)/σ_from²)).
      st.up = std::min(to, eta * std::sqrt(to * to * (from * from - to * to) / (from * from)));
      st.down = std::sqrt(to * to - st.up * st.up);
      st.mid = std::sqrt(from * st.down);
      steps_.push_back(st);
      calls_.push_back({static_cast<std::int64_t>(i), false});
      t.push_back(t_steps_[i]);
      if (st.down > 0) {
        calls_.push_back({static_cast<std::int64_t>(i), true});
        t.push_back(sigma_to_t(st.mid, log_sigmas_));
      }
    }
    timesteps_ = timestep_tensor(t, at::kFloat);
    saved_ = at::Tensor();
  }

  /// σ at which call `pos` evaluates the model.
  double call_sigma(std::int64_t pos) const {
    const auto& c = calls_[static_cast<size_t>(pos)];
    return c.second ? steps_[static_cast<size_t>(c.step)].mid : table_[static_cast<size_t>(c.step)];
  }
  at::Tensor scale(const at::Tensor& x, std::int64_t pos) override {
    const double s = call_sigma(pos);
    return x / static_cast<float>(std::sqrt(s * s + 1.0));
  }
  at::Tensor noise_to(const at::Tensor& clean, const at::Tensor& noise, std::int64_t pos) override {
    return clean + noise * static_cast<float>(call_sigma(pos));
  }

  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x,
                          sdk::NoiseSource& noise) override {
    const auto& c = calls_[static_cast<size_t>(pos)];
    const Step& st = steps_[static_cast<size_t>(c.step)];
    const double sigma = table_[static_cast<size_t>(c.step)];
    at::Tensor prev, x0;
    if (!c.second) {
      x0 = predict_x0(out, x, static_cast<float>(sigma));
      if (st.down > 0) {  // first stage: exponential-integrator half step to σ_mid
        saved_ = x;
        const double h = std::log(sigma / st.down);
        return {x * static_cast<float>(st.mid / sigma) - x0 * static_cast<float>(std::expm1(-0.5 * h)), x0};
      }
      // σ_down = 0: Euler to σ_down (k-diffusion's branch for the last step)
      prev = x + (x - x0) / static_cast<float>(sigma) * static_cast<float>(st.down - sigma);
    } else {
      if (!saved_.defined()) throw std::runtime_error("dpmpp_2s_a: midpoint call without its first stage");
      x0 = predict_x0(out, x, static_cast<float>(st.mid));
      const double h = std::log(sigma / st.down);
      prev = saved_ * static_cast<float>(st.down / sigma) - x0 * static_cast<float>(std::expm1(-h));
      saved_ = at::Tensor();
    }
    // One draw per step, skipped when its coefficient is zero (eta 0, or the last step).
    if (st.up > 0 && table_[static_cast<size_t>(c.step) + 1] > 0)
      prev = prev + draw(noise, out) * static_cast<float>(st.up * cfg_.values.get_number("s_noise", 1.0));
    return {prev, x0};
  }

  struct Step {
    double up = 0, down = 0, mid = 0;
  };
  std::vector<Step> steps_;
  std::vector<Call> calls_;
  at::Tensor saved_;  // x at σ_i while the midpoint call is pending
};

}  // namespace

std::unique_ptr<sdk::Scheduler> make_dpmpp_2s_ancestral(const std::string& f, SamplerConfig c) {
  return std::make_unique<DpmppTwoSAncestral>(f, std::move(c));
}

}  // namespace sdxl::schedulers
