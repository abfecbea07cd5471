#pragma once
// Solvers that index a σ table but keep the sample in VP scaling (DPM-Solver++, UniPC, DEIS):
// σ → α = 1/sqrt(σ²+1), s = σ·α, λ = log α − log s, all evaluated in float32 like diffusers'
// 0-d tensors. Timesteps are int64 (non-default sigma schedules round them).

#include <deque>
#include <vector>

#include "scheduler_base.h"

namespace sdxl::schedulers {

struct AlphaSigma {
  float alpha, sigma, lambda;
};

class VpSigmaSolver : public SchedulerBase {
 public:
  using SchedulerBase::SchedulerBase;

 protected:
  enum class Spacing { multistep, singlestep };
  /// Builds timesteps_ and the N+1 σ table; `final_sigma` is appended (0, or σ_train[0] for DEIS).
  void build_table(Spacing spacing, bool final_is_sigma_min);
  AlphaSigma at_pos(std::int64_t pos) const;
  /// Data prediction x0 from the model output at table position pos (diffusers convert_model_output).
  at::Tensor data_prediction(const at::Tensor& out, const at::Tensor& x, std::int64_t pos) const;
  at::Tensor noise_to(const at::Tensor& clean, const at::Tensor& noise, std::int64_t pos) override;
  float sig(std::int64_t pos) const { return table_[static_cast<size_t>(pos)]; }

  std::vector<float> table_;
};

/// Solves the small dense system A x = b (n ≤ 4) by Gaussian elimination with partial pivoting.
std::vector<double> solve_small(std::vector<std::vector<double>> a, std::vector<double> b);

}  // namespace sdxl::schedulers
