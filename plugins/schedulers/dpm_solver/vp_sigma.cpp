#include "vp_sigma.h"

#include <cmath>
#include <stdexcept>
#include <utility>

#include "named_schedules.h"

namespace sdxl::schedulers {

void VpSigmaSolver::build_table(Spacing spacing, bool final_is_sigma_min) {
  const auto T = cfg_.train.num_train_timesteps;
  std::vector<double> t;
  if (spacing == Spacing::singlestep) {
    // DPMSolverSinglestep (0.30.3) has no spacing option: round(linspace(0, T-1, N+1)) reversed, last dropped.
    auto l = np_linspace(0.0, static_cast<double>(T - 1), num_steps_ + 1);
    for (std::int64_t k = num_steps_; k >= 1; --k) t.push_back(round_half_even(l[static_cast<size_t>(k)]));
  } else {
    t = multistep_timesteps(cfg_.timestep_spacing, T, num_steps_, cfg_.steps_offset);
  }
  std::vector<double> s;
  const std::string& sched = cfg_.sigma_schedule;
  if (sched == "default") {
    s = interp_sigmas(sigma_train_, t);
  } else if (sched == "beta") {
    auto beta = beta_schedule(sigma_train_, num_steps_);  // integer timesteps, σ = σ_train[t]
    t = std::move(beta.timesteps);
    s = std::move(beta.sigmas);
    num_steps_ = static_cast<std::int64_t>(t.size());  // repeats dropped (only at very many steps)
  } else {
    // The DPM-Solver family spans the full training range, whatever the spacing.
    s = named_sigma_levels(sched, sigma_train_.front(), sigma_train_.back(), num_steps_, log_sigmas_);
    t.clear();
    for (double sigma : s) t.push_back(round_half_even(sigma_to_t(sigma, log_sigmas_)));
  }
  s.push_back(final_is_sigma_min ? sigma_train_.front() : 0.0);
  sigmas_ = float_tensor(s);
  table_.assign(sigmas_.data_ptr<float>(), sigmas_.data_ptr<float>() + sigmas_.numel());
  timesteps_ = timestep_tensor(t, at::kLong);
}

AlphaSigma VpSigmaSolver::at_pos(std::int64_t pos) const {
  const float s = sig(pos);
  const float alpha = 1.0f / std::sqrt(s * s + 1.0f);
  const float sigma = s * alpha;
  return {alpha, sigma, std::log(alpha) - std::log(sigma)};
}

at::Tensor VpSigmaSolver::data_prediction(const at::Tensor& out, const at::Tensor& x, std::int64_t pos) const {
  const auto a = at_pos(pos);
  if (cfg_.prediction_type == "v_prediction") return a.alpha * x - a.sigma * out;
  if (cfg_.prediction_type == "sample") return out;
  return (x - a.sigma * out) / a.alpha;
}

at::Tensor VpSigmaSolver::noise_to(const at::Tensor& clean, const at::Tensor& noise, std::int64_t pos) {
  const auto a = at_pos(pos);
  return a.alpha * clean + a.sigma * noise;
}

std::vector<double> solve_small(std::vector<std::vector<double>> a, std::vector<double> b) {
  const size_t n = b.size();
  for (size_t c = 0; c < n; ++c) {
    size_t p = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::abs(a[r][c]) > std::abs(a[p][c])) p = r;
    std::swap(a[c], a[p]);
    std::swap(b[c], b[p]);
    if (a[c][c] == 0.0) throw std::runtime_error("singular UniPC coefficient system");
    for (size_t r = c + 1; r < n; ++r) {
      const double f = a[r][c] / a[c][c];
      for (size_t k = c; k < n; ++k) a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> x(n);
  for (size_t i = n; i-- > 0;) {
    double acc = b[i];
    for (size_t k = i + 1; k < n; ++k) acc -= a[i][k] * x[k];
    x[i] = acc / a[i][i];
  }
  return x;
}

}  // namespace sdxl::schedulers
