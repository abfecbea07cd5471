#include "schedule_math.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sdxl::schedulers {

at::Tensor alphas_cumprod(const TrainSchedule& s) {
  const auto T = s.num_train_timesteps;
  at::Tensor betas;
  if (s.beta_schedule == "linear") {
    betas = at::linspace(s.beta_start, s.beta_end, T, at::kFloat);
  } else if (s.beta_schedule == "scaled_linear") {
    // torch.linspace(beta_start**0.5, beta_end**0.5, T, dtype=float32) ** 2
    betas = at::linspace(std::sqrt(s.beta_start), std::sqrt(s.beta_end), T, at::kFloat).pow(2);
  } else if (s.beta_schedule == "squaredcos_cap_v2") {
    // betas_for_alpha_bar (Nichol & Dhariwal 2021, cosine schedule), double then float32.
    auto alpha_bar = [](double t) {
      constexpr double kPi = 3.14159265358979323846;
      double c = std::cos((t + 0.008) / 1.008 * kPi / 2.0);
      return c * c;
    };
    std::vector<float> b(static_cast<size_t>(T));
    for (std::int64_t i = 0; i < T; ++i) {
      double t1 = static_cast<double>(i) / T, t2 = static_cast<double>(i + 1) / T;
      b[static_cast<size_t>(i)] = static_cast<float>(std::min(1.0 - alpha_bar(t2) / alpha_bar(t1), 0.999));
    }
    betas = at::tensor(b, at::kFloat);
  } else {
    throw std::invalid_argument("unknown beta_schedule '" + s.beta_schedule + "'");
  }
  return at::cumprod(1.0 - betas, 0);
}

at::Tensor train_sigmas(const at::Tensor& ac) { return ((1 - ac) / ac).pow(0.5); }

std::vector<double> to_doubles(const at::Tensor& t) {
  auto d = t.to(at::kCPU, at::kDouble).contiguous();  // read on the host, wherever t lives
  const double* p = d.data_ptr<double>();
  return std::vector<double>(p, p + d.numel());
}

double round_half_even(double x) {
  // nearbyint honours the current rounding mode, which is round-to-nearest-even by default.
  return std::nearbyint(x);
}

std::vector<double> np_linspace(double start, double stop, std::int64_t num) {
  std::vector<double> y(static_cast<size_t>(std::max<std::int64_t>(num, 0)));
  if (num <= 0) return y;
  if (num == 1) {
    y[0] = start;
    return y;
  }
  const double step = (stop - start) / static_cast<double>(num - 1);
  for (std::int64_t k = 0; k < num; ++k) y[static_cast<size_t>(k)] = static_cast<double>(k) * step + start;
  y.back() = stop;
  return y;
}

std::vector<double> np_arange(double start, double stop, double step) {
  const double len = std::ceil((stop - start) / step);
  std::vector<double> y;
  if (!(len > 0)) return y;
  const double delta = (start + step) - start;
  y.resize(static_cast<size_t>(len));
  for (size_t k = 0; k < y.size(); ++k) y[k] = start + static_cast<double>(k) * delta;
  return y;
}

static std::vector<double> trailing(std::int64_t T, std::int64_t N, double last) {
  auto a = np_arange(last, 0.0, -static_cast<double>(T) / static_cast<double>(N));
  for (auto& v : a) v = round_half_even(v) - 1.0;
  return a;
}

std::vector<double> spaced_timesteps(const std::string& spacing, std::int64_t T, std::int64_t N,
                                     std::int64_t steps_offset) {
  std::vector<double> ts;
  if (spacing == "leading") {
    const std::int64_t ratio = T / N;
    for (std::int64_t k = N - 1; k >= 0; --k) ts.push_back(static_cast<double>(k * ratio + steps_offset));
  } else if (spacing == "linspace") {
    ts = np_linspace(0.0, static_cast<double>(T - 1), N);
    std::reverse(ts.begin(), ts.end());
  } else if (spacing == "trailing") {
    ts = trailing(T, N, static_cast<double>(T));
  } else {
    throw std::invalid_argument("unknown timestep_spacing '" + spacing + "'");
  }
  return ts;
}

std::vector<double> multistep_timesteps(const std::string& spacing, std::int64_t T, std::int64_t N,
                                        std::int64_t steps_offset) {
  std::vector<double> ts;
  if (spacing == "leading") {
    const std::int64_t ratio = T / (N + 1);
    for (std::int64_t k = N; k >= 1; --k) ts.push_back(static_cast<double>(k * ratio + steps_offset));
  } else if (spacing == "linspace") {
    auto l = np_linspace(0.0, static_cast<double>(T - 1), N + 1);
    for (std::int64_t k = N; k >= 1; --k) ts.push_back(round_half_even(l[static_cast<size_t>(k)]));
  } else if (spacing == "trailing") {
    ts = trailing(T, N, static_cast<double>(T));
  } else {
    throw std::invalid_argument("unknown timestep_spacing '" + spacing + "'");
  }
  return ts;
}

std::vector<double> lcm_timesteps(std::int64_t T, std::int64_t original_steps, std::int64_t N) {
  const std::int64_t k = T / original_steps;
  std::vector<double> grid;  // reversed: 999, 979, …, 19
  for (std::int64_t j = original_steps; j >= 1; --j) grid.push_back(static_cast<double>(j * k - 1));
  const double step = static_cast<double>(original_steps) / static_cast<double>(N);
  std::vector<double> ts;
  for (std::int64_t i = 0; i < N; ++i) {
    auto idx = static_cast<size_t>(std::floor(static_cast<double>(i) * step));
    ts.push_back(grid[std::min(idx, grid.size() - 1)]);
  }
  return ts;
}

std::vector<double> interp_sigmas(const std::vector<double>& fp, const std::vector<double>& t) {
  std::vector<double> out;
  out.reserve(t.size());
  const auto n = static_cast<std::int64_t>(fp.size());
  for (double x : t) {
    if (x <= 0) {
      out.push_back(fp.front());
    } else if (x >= static_cast<double>(n - 1)) {
      out.push_back(fp.back());
    } else {
      auto j = static_cast<std::int64_t>(std::floor(x));
      const double slope = fp[static_cast<size_t>(j + 1)] - fp[static_cast<size_t>(j)];  // dx = 1
      out.push_back(slope * (x - static_cast<double>(j)) + fp[static_cast<size_t>(j)]);
    }
  }
  return out;
}

double sigma_to_t(double sigma, const std::vector<double>& log_sigmas) {
  const double log_sigma = std::log(std::max(sigma, 1e-10));
  const auto n = static_cast<std::int64_t>(log_sigmas.size());
  std::int64_t low = 0;
  for (std::int64_t i = 0; i < n; ++i)
    if (log_sigma - log_sigmas[static_cast<size_t>(i)] >= 0) low = i;
  low = std::min(low, n - 2);
  const double lo = log_sigmas[static_cast<size_t>(low)], hi = log_sigmas[static_cast<size_t>(low + 1)];
  double w = (lo - log_sigma) / (lo - hi);
  w = std::clamp(w, 0.0, 1.0);
  return (1.0 - w) * static_cast<double>(low) + w * static_cast<double>(low + 1);
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, std::int64_t N, double rho) {
  const auto ramp = np_linspace(0.0, 1.0, N);
  const double min_inv = std::pow(sigma_min, 1.0 / rho), max_inv = std::pow(sigma_max, 1.0 / rho);
  std::vector<double> s;
  for (double r : ramp) s.push_back(std::pow(max_inv + r * (min_inv - max_inv), rho));
  return s;
}

std::vector<double> exponential_sigmas(double sigma_min, double sigma_max, std::int64_t N) {
  auto l = np_linspace(std::log(sigma_max), std::log(sigma_min), N);
  for (auto& v : l) v = std::exp(v);
  return l;
}

std::vector<double> sgm_uniform_sigmas(const std::vector<double>& log_sigmas, std::int64_t N) {
  const double t_max = static_cast<double>(log_sigmas.size() - 1);
  auto ts = np_linspace(t_max, 0.0, N + 1);
  ts.pop_back();
  std::vector<double> s;
  for (double t : ts) {
    auto lo = static_cast<size_t>(std::floor(t)), hi = static_cast<size_t>(std::ceil(t));
    const double w = t - std::floor(t);
    s.push_back(std::exp((1.0 - w) * log_sigmas[lo] + w * log_sigmas[hi]));
  }
  return s;
}

at::Tensor float_tensor(const std::vector<double>& v) {
  std::vector<float> f(v.begin(), v.end());
  return at::tensor(f, at::kFloat);
}

at::Tensor timestep_tensor(const std::vector<double>& v, c10::ScalarType dtype) {
  if (dtype == at::kLong) {
    std::vector<std::int64_t> i;
    for (double x : v) i.push_back(static_cast<std::int64_t>(x));
    return at::tensor(i, at::kLong);
  }
  if (dtype == at::kFloat) return float_tensor(v);
  return at::tensor(v, at::kDouble);
}

}  // namespace sdxl::schedulers
