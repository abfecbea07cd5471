#pragma once
// Sigma schedules that ComfyUI / A1111 users pick by name and that are not derived from the
// inference timestep spacing:
//   * "beta"  — Lee et al. (2024), "Beta Sampling is All You Need": timesteps at the quantiles
//               1, 1-1/N, …, 1/N of Beta(0.6, 0.6), scaled to [0, T-1] and rounded (half to
//               even), consecutive repeats dropped (as ComfyUI's beta_scheduler does), σ = σ_train[t];
//   * "ays"   — NVIDIA "Align Your Steps" (Sabour et al. 2024), the published SDXL 10-step table,
//               interpolated log-linearly to N+1 levels (the AYS paper's / ComfyUI's rule); the
//               last level is replaced by σ = 0 by the caller.

#include <cstdint>
#include <string>
#include <vector>

namespace sdxl::schedulers {

/// The published Align-Your-Steps SDXL noise levels for 10 steps (11 values, descending).
const std::vector<double>& ays_sdxl_table();

/// N+1 descending σ levels: the AYS SDXL table log-linearly interpolated to N+1 points
/// (np.interp of log σ on linspace(0, 1, ·), as the reference does). N >= 1.
std::vector<double> ays_sdxl_sigmas(std::int64_t N);

/// Integer timesteps (descending, no repeats, at most N) of the beta schedule for a model with
/// T training timesteps: rint(I⁻¹(1 - k/N; alpha, beta) · (T - 1)), k = 0 … N-1.
std::vector<double> beta_schedule_timesteps(std::int64_t T, std::int64_t N, double alpha = 0.6, double beta = 0.6);

/// The beta schedule's timesteps (as above) and their training σ, σ_train[t] exactly.
struct BetaSchedule {
  std::vector<double> timesteps, sigmas;
};
BetaSchedule beta_schedule(const std::vector<double>& sigma_train, std::int64_t N);

/// N descending σ levels (the final σ, which each sampler appends itself, not included) of the
/// schedule `name` — "karras", "exponential" or "sgm_uniform" between sigma_min and sigma_max, or
/// "ays" (the SDXL table, its last level dropped). Throws std::invalid_argument for other names.
std::vector<double> named_sigma_levels(const std::string& name, double sigma_min, double sigma_max, std::int64_t N,
                                       const std::vector<double>& log_sigmas);

}  // namespace sdxl::schedulers
