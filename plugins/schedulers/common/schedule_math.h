#pragma once
// Schedule arithmetic shared by every scheduler plugin, written to reproduce diffusers 0.30.3
// bit-for-bit where it matters (see ../shared/golden/schedulers/README.md, section 8):
//   * the training schedule ᾱ is built with the same libtorch float32 ops diffusers uses
//     (linspace, pow, cumprod), so it is identical, not merely close;
//   * timestep spacings follow numpy (round half to even, linspace = k * step, arange fill);
//   * sigma tables are interpolated in double and rounded to float32 once, as np.interp does.
// Everything here is plain data in, plain data out: no scheduler state.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sdxl::schedulers {

/// Training-time noise schedule (diffusers config keys).
struct TrainSchedule {
  std::int64_t num_train_timesteps = 1000;
  double beta_start = 0.00085;
  double beta_end = 0.012;
  std::string beta_schedule = "scaled_linear";  // linear | scaled_linear | squaredcos_cap_v2
};

/// ᾱ_t for t = 0 … T-1: float32 [T], as torch.cumprod(1 - betas) on float32 computes it.
at::Tensor alphas_cumprod(const TrainSchedule& s);

/// σ_train[t] = sqrt((1 - ᾱ)/ᾱ), evaluated in float32. ac: float32 [T] → float32 [T].
at::Tensor train_sigmas(const at::Tensor& alphas_cumprod);

/// A float32 [n] tensor's values as doubles (exact).
std::vector<double> to_doubles(const at::Tensor& t);

/// numpy's np.round: half to even.
double round_half_even(double x);

/// np.linspace(start, stop, num) entries (k * step + start, last set to stop), in double.
std::vector<double> np_linspace(double start, double stop, std::int64_t num);
/// np.arange(start, stop, step) for a float step, entries start + k * delta as numpy fills them.
std::vector<double> np_arange(double start, double stop, double step);

/// Descending spacings for N steps (diffusers' set_timesteps), values not yet cast:
/// "leading": k*(T//N)+offset, k=N-1…0; "linspace": linspace(0,T-1,N) reversed (fractional);
/// "trailing": round(arange(T,0,-T/N)) - 1.
std::vector<double> spaced_timesteps(const std::string& spacing, std::int64_t T, std::int64_t N,
                                     std::int64_t steps_offset);
/// The DPM-Solver/UniPC/DEIS variant, which divides the range into N+1 parts and drops the last
/// (leading: k*(T//(N+1))+offset, k=N…1; linspace: round(linspace(0,T-1,N+1)) reversed minus the
/// last entry; trailing: as above).
std::vector<double> multistep_timesteps(const std::string& spacing, std::int64_t T, std::int64_t N,
                                        std::int64_t steps_offset);
/// LCM/TCD: grid 20j-1 (j=1…original_steps, k = T//original_steps), reversed, entries floor(i*orig/N).
std::vector<double> lcm_timesteps(std::int64_t T, std::int64_t original_steps, std::int64_t N);

/// np.interp(t, arange(T), sigma_train) in double (linear in σ between integer timesteps).
std::vector<double> interp_sigmas(const std::vector<double>& sigma_train, const std::vector<double>& t);
/// Log-σ interpolation back to a (fractional) timestep, as diffusers' _sigma_to_t:
/// last index i with log σ_i <= log σ (i <= T-2), w clipped to [0,1], t = i + w.
double sigma_to_t(double sigma, const std::vector<double>& log_sigmas);

/// Karras et al. (2022) eq. 5 with rho=7: (σmax^(1/ρ) + k/(N-1)(σmin^(1/ρ) - σmax^(1/ρ)))^ρ.
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, std::int64_t N, double rho = 7.0);
/// k-diffusion get_sigmas_exponential: exp(linspace(log σmax, log σmin, N)).
std::vector<double> exponential_sigmas(double sigma_min, double sigma_max, std::int64_t N);
/// ComfyUI "sgm_uniform": σ at t = linspace(T-1, 0, N+1)[:-1], interpolated linearly in log σ.
std::vector<double> sgm_uniform_sigmas(const std::vector<double>& log_sigmas, std::int64_t N);

/// float32 [n] tensor from doubles (each rounded once).
at::Tensor float_tensor(const std::vector<double>& v);
/// Tensor of timesteps in `dtype` (kLong rounds nothing: values must already be integral).
at::Tensor timestep_tensor(const std::vector<double>& v, c10::ScalarType dtype);

}  // namespace sdxl::schedulers
