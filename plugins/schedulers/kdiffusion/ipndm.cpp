// Improved pseudo-numerical method (iPNDM; Zhang & Chen 2023, k-diffusion / ComfyUI
// sample_ipndm): Adams–Bashforth on d = (x − D(x, σ))/σ with constant-step coefficients,
// warming up through lower orders:
//   order 1: d₀;  2: (3d₀ − d₋₁)/2;  3: (23d₀ − 16d₋₁ + 5d₋₂)/12;  4: (55d₀ − 59d₋₁ + 37d₋₂ − 9d₋₃)/24
//   x' = x + (σ_next − σ)·combination.
// One model call per step. The order counts the steps taken since set_timesteps/skip (as the
// reference, whose loop restarts on truncated sigmas), capped by `solver_order` (default 4).
#include <algorithm>
#include <cmath>
#include <deque>

#include "kdiffusion_samplers.h"
#include "sigma_sampler.h"

namespace sdxl::schedulers {
namespace {

class Ipndm final : public SigmaSampler {
 public:
  using SigmaSampler::SigmaSampler;

 protected:
  void build() override {
    build_sigma_steps();
    auto s = sigma_steps_;
    s.push_back(0.0);
    set_table(float_tensor(s));  // [N+1]
    timesteps_ = timestep_tensor(t_steps_, at::kFloat);
    history_.clear();
  }
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x, sdk::NoiseSource&) override {
    const float sigma = table_[static_cast<size_t>(pos)];
    const float sigma_next = table_[static_cast<size_t>(pos) + 1];
    auto x0 = predict_x0(out, x, sigma);
    auto d = (x - x0) / sigma;
    const auto max_order = cfg_.values.get_int("solver_order", 4);
    const auto order = std::min<std::int64_t>(max_order, static_cast<std::int64_t>(history_.size()) + 1);
    auto back = [&](size_t k) { return history_[history_.size() - k]; };  // k = 1: previous step's d
    at::Tensor comb;
    if (order == 1) {
      comb = d;
    } else if (order == 2) {
      comb = (3 * d - back(1)) / 2;
    } else if (order == 3) {
      comb = (23 * d - 16 * back(1) + 5 * back(2)) / 12;
    } else {
      comb = (55 * d - 59 * back(1) + 37 * back(2) - 9 * back(3)) / 24;
    }
    history_.push_back(d);
    while (static_cast<std::int64_t>(history_.size()) > std::max<std::int64_t>(max_order - 1, 0)) history_.pop_front();
    return {x + comb * (sigma_next - sigma), x0};
  }
  std::deque<at::Tensor> history_;  // d of the previous steps, oldest first (at most solver_order − 1)
};

}  // namespace

std::unique_ptr<sdk::Scheduler> make_ipndm(const std::string& f, SamplerConfig c) {
  return std::make_unique<Ipndm>(f, std::move(c));
}

}  // namespace sdxl::schedulers
