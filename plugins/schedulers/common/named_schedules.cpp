#include "named_schedules.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "beta_distribution.h"
#include "schedule_math.h"

namespace sdxl::schedulers {

const std::vector<double>& ays_sdxl_table() {
  // Sabour, Fidler, Kreis (2024), "Align Your Steps", optimized SDXL schedule (10 steps).
  static const std::vector<double> table{14.615, 6.315, 3.771, 2.181, 1.342, 0.862,
                                         0.555,  0.380, 0.234, 0.113, 0.029};
  return table;
}

std::vector<double> ays_sdxl_sigmas(std::int64_t N) {
  const auto& table = ays_sdxl_table();
  const auto n = static_cast<std::int64_t>(table.size());
  // Interpolation runs on the ascending (reversed) table, then the result is reversed back.
  std::vector<double> ys(table.rbegin(), table.rend());
  for (auto& y : ys) y = std::log(y);
  const auto xs = np_linspace(0.0, 1.0, n);
  const auto new_xs = np_linspace(0.0, 1.0, N + 1);
  std::vector<double> out;
  for (double x : new_xs) {
    // np.interp: first interval [xs[j], xs[j+1]] containing x.
    size_t j = 0;
    while (j + 2 < xs.size() && x > xs[j + 1]) ++j;
    const double w = (x - xs[j]) / (xs[j + 1] - xs[j]);
    const double y = x >= xs.back() ? ys.back() : ys[j] + w * (ys[j + 1] - ys[j]);
    out.push_back(std::exp(y));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<double> beta_schedule_timesteps(std::int64_t T, std::int64_t N, double alpha, double beta) {
  const auto k = np_linspace(0.0, 1.0, N + 1);  // linspace(0, 1, N, endpoint=False) = first N of these
  std::vector<double> ts;
  for (std::int64_t i = 0; i < N; ++i) {
    const double q = 1.0 - k[static_cast<size_t>(i)];
    const double t = round_half_even(inverse_regularized_incomplete_beta(q, alpha, beta) * static_cast<double>(T - 1));
    if (ts.empty() || ts.back() != t) ts.push_back(t);  // repeats would be zero-length steps
  }
  return ts;
}

BetaSchedule beta_schedule(const std::vector<double>& sigma_train, std::int64_t N) {
  BetaSchedule b;
  b.timesteps = beta_schedule_timesteps(static_cast<std::int64_t>(sigma_train.size()), N);
  for (double t : b.timesteps) b.sigmas.push_back(sigma_train[static_cast<std::size_t>(t)]);
  return b;
}

std::vector<double> named_sigma_levels(const std::string& name, double sigma_min, double sigma_max, std::int64_t N,
                                       const std::vector<double>& log_sigmas) {
  if (name == "karras") return karras_sigmas(sigma_min, sigma_max, N);
  if (name == "exponential") return exponential_sigmas(sigma_min, sigma_max, N);
  if (name == "sgm_uniform") return sgm_uniform_sigmas(log_sigmas, N);
  if (name == "ays") {
    auto s = ays_sdxl_sigmas(N);
    s.pop_back();  // the reference replaces the last level by the sampler's final σ
    return s;
  }
  throw std::invalid_argument("unknown sigma_schedule '" + name + "'");
}

}  // namespace sdxl::schedulers
