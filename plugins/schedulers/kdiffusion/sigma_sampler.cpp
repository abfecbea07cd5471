#include "sigma_sampler.h"

#include <algorithm>
#include <cmath>

#include "named_schedules.h"

namespace sdxl::schedulers {

void SigmaSampler::build_sigma_steps() {
  const auto T = cfg_.train.num_train_timesteps;
  auto t = spaced_timesteps(cfg_.timestep_spacing, T, num_steps_, cfg_.steps_offset);
  // diffusers keeps these timesteps as float32 before interpolating (np.float32 arrays).
  for (auto& v : t) v = static_cast<double>(static_cast<float>(v));
  auto s = interp_sigmas(sigma_train_, t);
  const std::string& sched = cfg_.sigma_schedule;
  if (sched == "beta") {
    // Integer training timesteps over the full range (ComfyUI); σ = σ_train[t] exactly.
    auto beta = beta_schedule(sigma_train_, num_steps_);
    t = std::move(beta.timesteps);
    s = std::move(beta.sigmas);
    num_steps_ = static_cast<std::int64_t>(t.size());  // repeats dropped (only at very many steps)
  } else if (sched != "default") {
    // Between the spaced schedule's own ends; the samplers append σ = 0.
    s = named_sigma_levels(sched, s.back(), s.front(), num_steps_, log_sigmas_);
    t.clear();
    for (double sigma : s) t.push_back(sigma_to_t(sigma, log_sigmas_));
  }
  sigma_steps_ = std::move(s);
  t_steps_ = std::move(t);
}

void SigmaSampler::set_table(const at::Tensor& sigmas_f32) {
  sigmas_ = sigmas_f32.to(at::kCPU, at::kFloat).contiguous();  // read on the host below
  const float* p = sigmas_.data_ptr<float>();
  table_.assign(p, p + sigmas_.numel());
}

double SigmaSampler::init_noise_sigma() const {
  if (table_.empty()) return 1.0;
  float m = *std::max_element(table_.begin(), table_.end());
  if (cfg_.timestep_spacing == "linspace" || cfg_.timestep_spacing == "trailing") return m;
  return std::sqrt(m * m + 1.0f);
}

at::Tensor SigmaSampler::scale(const at::Tensor& x, std::int64_t pos) {
  const float s = table_[static_cast<size_t>(pos)];
  return x / std::sqrt(s * s + 1.0f);
}

at::Tensor SigmaSampler::noise_to(const at::Tensor& clean, const at::Tensor& noise, std::int64_t pos) {
  return clean + noise * table_[static_cast<size_t>(pos)];
}

at::Tensor SigmaSampler::predict_x0(const at::Tensor& out, const at::Tensor& x, float sigma) const {
  if (cfg_.prediction_type == "v_prediction") {
    const float s2p1 = sigma * sigma + 1.0f;
    return out * (-sigma / std::sqrt(s2p1)) + x / s2p1;
  }
  if (cfg_.prediction_type == "sample") return out;
  return x - sigma * out;
}

}  // namespace sdxl::schedulers
