// DPM-Solver++ (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling"):
//   multistep 2M / 3M (Alg. 2 and its third-order extension), the SDE variant 2M SDE, and the
//   singlestep 2S. Data-prediction form, midpoint solver type, diffusers 0.30.3 order rules.
#include <cmath>
#include <deque>
#include <stdexcept>

#include "dpm_solver.h"
#include "vp_sigma.h"

namespace sdxl::schedulers {
namespace {

class DpmMultistep final : public VpSigmaSolver {
 public:
  using VpSigmaSolver::VpSigmaSolver;

 protected:
  void build() override {
    if (cfg_.values.get_string("algorithm_type", "dpmsolver++") == "sde-dpmsolver++" &&
        cfg_.values.get_int("solver_order", 2) > 2)
      throw std::invalid_argument("solver_order 3 is not available with algorithm_type sde-dpmsolver++");
    build_table(Spacing::multistep, false);
    history_.clear();
    lower_order_nums_ = 0;
  }
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x,
                          sdk::NoiseSource& noise) override {
    const auto order_cfg = cfg_.values.get_int("solver_order", 2);
    const bool sde = cfg_.values.get_string("algorithm_type", "dpmsolver++") == "sde-dpmsolver++";
    const bool lof_cfg = cfg_.values.get_bool("lower_order_final", true);
    const bool euler_at_final = cfg_.values.get_bool("euler_at_final", false);
    auto m = data_prediction(out, x, pos);
    history_.push_back(m);
    if (static_cast<std::int64_t>(history_.size()) > order_cfg) history_.pop_front();
    const auto n = num_calls();
    const bool final_zero = sig(pos + 1) == 0.0f;
    const bool lower_final = pos == n - 1 && (euler_at_final || (lof_cfg && n < 15) || final_zero);
    const bool lower_second = pos == n - 2 && lof_cfg && n < 15;
    int order = 3;
    if (order_cfg == 1 || lower_order_nums_ < 1 || lower_final) {
      order = 1;
    } else if (order_cfg == 2 || lower_order_nums_ < 2 || lower_second) {
      order = 2;
    }
    if (lower_order_nums_ < order_cfg) ++lower_order_nums_;
    // At σ_next = 0 every variant returns the data prediction (diffusers via log(0) = -inf).
    if (final_zero) return {m.clone(), m};

    const auto t = at_pos(pos + 1), s0 = at_pos(pos);
    const float h = t.lambda - s0.lambda;
    const auto hist = [&](size_t back) { return history_[history_.size() - 1 - back]; };
    at::Tensor d1, d2;
    if (order >= 2) {
      const auto s1 = at_pos(pos - 1);
      const float r0 = (s0.lambda - s1.lambda) / h;
      if (order == 2) {
        d1 = (1.0f / r0) * (hist(0) - hist(1));
      } else {
        const auto s2 = at_pos(pos - 2);
        const float r1 = (s1.lambda - s2.lambda) / h;
        auto d1_0 = (1.0f / r0) * (hist(0) - hist(1));
        auto d1_1 = (1.0f / r1) * (hist(1) - hist(2));
        d1 = d1_0 + (r0 / (r0 + r1)) * (d1_0 - d1_1);
        d2 = (1.0f / (r0 + r1)) * (d1_0 - d1_1);
      }
    }
    at::Tensor prev;
    if (sde) {
      const float e2 = 1.0f - std::exp(-2.0f * h);
      prev = (t.sigma / s0.sigma * std::exp(-h)) * x + (t.alpha * e2) * m;
      if (order >= 2) prev = prev + 0.5f * (t.alpha * e2) * d1;
      prev = prev + t.sigma * std::sqrt(e2) * draw(noise, out);
    } else {
      const float em1 = std::exp(-h) - 1.0f;
      prev = (t.sigma / s0.sigma) * x - (t.alpha * em1) * m;
      if (order == 2) prev = prev - 0.5f * (t.alpha * em1) * d1;
      if (order == 3)
        prev = prev + (t.alpha * (em1 / h + 1.0f)) * d1 - (t.alpha * ((em1 + h) / (h * h) - 0.5f)) * d2;
    }
    return {prev, m};
  }
  std::deque<at::Tensor> history_;
  std::int64_t lower_order_nums_ = 0;
};

class DpmSinglestep final : public VpSigmaSolver {
 public:
  using VpSigmaSolver::VpSigmaSolver;

 protected:
  void build() override {
    build_table(Spacing::singlestep, false);
    history_.clear();
    base_ = at::Tensor();
    const auto order = cfg_.values.get_int("solver_order", 2);
    const auto n = num_steps_;
    // get_order_list with lower_order_final (switched on by final sigma 0 in 0.30.3).
    orders_.clear();
    if (order == 1) {
      orders_.assign(static_cast<size_t>(n), 1);
    } else if (order == 2) {
      for (std::int64_t i = 0; i < n / 2 - (n % 2 == 0 ? 1 : 0); ++i) orders_.insert(orders_.end(), {1, 2});
      if (n % 2 == 0) {
        orders_.insert(orders_.end(), {1, 1});
      } else {
        orders_.push_back(1);
      }
      if (n == 1) orders_ = {1};
    } else {
      const std::int64_t reps = n / 3 - (n % 3 == 0 ? 1 : 0);
      for (std::int64_t i = 0; i < reps; ++i) orders_.insert(orders_.end(), {1, 2, 3});
      if (n % 3 == 0) {
        orders_.insert(orders_.end(), {1, 2, 1});
      } else if (n % 3 == 1) {
        orders_.push_back(1);
      } else {
        orders_.insert(orders_.end(), {1, 2});
      }
    }
  }
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x, sdk::NoiseSource&) override {
    auto m = data_prediction(out, x, pos);
    history_.push_back(m);
    if (static_cast<std::int64_t>(history_.size()) > cfg_.values.get_int("solver_order", 2)) history_.pop_front();
    int order = orders_[static_cast<size_t>(pos)];
    while (order > static_cast<int>(history_.size())) --order;  // img2img start: no history yet
    if (order > 2) order = 2;  // third-order singlestep updates are not offered (schema max 2)
    if (order == 1) base_ = x;
    if (sig(pos + 1) == 0.0f) return {m.clone(), m};
    const auto t = at_pos(pos + 1), s0 = at_pos(pos);
    if (order == 1) {
      const float h = t.lambda - s0.lambda;
      return {(t.sigma / s0.sigma) * base_ - (t.alpha * (std::exp(-h) - 1.0f)) * m, m};
    }
    const auto s1 = at_pos(pos - 1);
    const float h = t.lambda - s1.lambda, h0 = s0.lambda - s1.lambda;
    const float r0 = h0 / h;
    const auto& m0 = history_.back();
    const auto& m1 = history_[history_.size() - 2];
    auto d1 = (1.0f / r0) * (m0 - m1);
    const float em1 = std::exp(-h) - 1.0f;
    auto prev = (t.sigma / s1.sigma) * base_ - (t.alpha * em1) * m1 - 0.5f * (t.alpha * em1) * d1;
    return {prev, m};
  }
  std::deque<at::Tensor> history_;
  std::vector<int> orders_;
  at::Tensor base_;
};

}  // namespace

std::unique_ptr<sdk::Scheduler> make_dpmpp_multistep(const std::string& f, SamplerConfig c) {
  return std::make_unique<DpmMultistep>(f, std::move(c));
}
std::unique_ptr<sdk::Scheduler> make_dpmpp_singlestep(const std::string& f, SamplerConfig c) {
  return std::make_unique<DpmSinglestep>(f, std::move(c));
}

}  // namespace sdxl::schedulers
