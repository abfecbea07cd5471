#pragma once
// Samplers that live in the "σ scaling" (k-diffusion; diffusers' Euler/LMS/Heun/KDPM2 classes):
// the sample is x = x0 + σ·ε, the model sees x / sqrt(σ² + 1), and img2img noises with x0 + σ·ε.
// The σ table is built from the spaced timesteps by linear interpolation of σ_train, or by a
// named sigma schedule (karras, exponential, sgm_uniform) whose timesteps are then found by
// log-σ interpolation.

#include <vector>

#include "scheduler_base.h"

namespace sdxl::schedulers {

class SigmaSampler : public SchedulerBase {
 public:
  using SchedulerBase::SchedulerBase;
  double init_noise_sigma() const override;

 protected:
  /// σ at each of N spaced timesteps (no final 0), and the timesteps (fractional for the
  /// non-default schedules). Fills sigma_steps_ and t_steps_.
  void build_sigma_steps();
  /// x / sqrt(σ² + 1), σ = table_[pos].
  at::Tensor scale(const at::Tensor& x, std::int64_t pos) override;
  /// x0 + σ·ε with σ = table_[pos].
  at::Tensor noise_to(const at::Tensor& clean, const at::Tensor& noise, std::int64_t pos) override;
  /// Clean-sample estimate at noise level σ (σ scaling), per prediction_type.
  at::Tensor predict_x0(const at::Tensor& out, const at::Tensor& x, float sigma) const;
  /// Stores the float32 table as sigmas_ and table_.
  void set_table(const at::Tensor& sigmas_f32);

  std::vector<double> sigma_steps_;  ///< N σ values (double, before float32 rounding)
  std::vector<double> t_steps_;      ///< N timesteps matching sigma_steps_
  std::vector<float> table_;         ///< sigmas_ as floats
  /// dtype diffusers gives the timesteps with a non-default sigma schedule (LMS/Heun: float64).
  c10::ScalarType custom_schedule_dtype_ = at::kFloat;
};

}  // namespace sdxl::schedulers
