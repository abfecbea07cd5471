#pragma once
// Common body of every scheduler: the sdk::Scheduler entry points with argument checks and
// exception guards, the img2img call offset, and the training schedule. A sampler implements
// build() (its timesteps and tables), advance() (one step) and, where it differs, scale() and
// noise_to(). Positions passed to them index the FULL schedule (call + skipped calls), which is
// what diffusers' step_index is after an img2img truncation.

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sampler_config.h"
#include "sdxl/sdk/scheduler.h"

namespace sdxl::schedulers {

class SchedulerBase : public sdk::Scheduler {
 public:
  SchedulerBase(std::string feature, SamplerConfig cfg);

  sdk::Status set_timesteps(std::int64_t num_inference_steps) final;
  sdk::Status skip_calls(std::int64_t calls) final;
  at::Tensor timesteps() const final;
  at::Tensor sigmas() const override { return sigmas_; }
  double init_noise_sigma() const override { return 1.0; }
  sdk::Result<at::Tensor> scale_model_input(const at::Tensor& sample, std::int64_t call) final;
  sdk::Result<sdk::StepResult> step(const at::Tensor& model_output, std::int64_t call, const at::Tensor& sample,
                                    sdk::NoiseSource& noise) final;
  sdk::Result<at::Tensor> add_noise(const at::Tensor& clean, const at::Tensor& noise, std::int64_t call) final;

 protected:
  /// Builds timesteps_ (full, native dtype), sigmas_ where the sampler has a table, and resets
  /// solver state. num_steps_ is already set.
  virtual void build() = 0;
  virtual at::Tensor scale(const at::Tensor& x, std::int64_t /*pos*/) { return x; }
  virtual sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x,
                                  sdk::NoiseSource& noise) = 0;
  /// Default: VP noising sqrt(ᾱ_t)·x0 + sqrt(1-ᾱ_t)·ε at the integer timestep of `pos`.
  virtual at::Tensor noise_to(const at::Tensor& clean, const at::Tensor& noise, std::int64_t pos);

  std::int64_t num_calls() const { return timesteps_.defined() ? timesteps_.size(0) : 0; }
  /// Timestep of full-schedule position `pos`, as a double (exact for every dtype used).
  double t_at(std::int64_t pos) const { return ts_[static_cast<size_t>(pos)]; }
  /// ᾱ at integer timestep t (float32 value, as a double).
  double ac_at(std::int64_t t) const { return ac_[static_cast<size_t>(t)]; }
  /// A standard-normal draw shaped like `like`, float32, from the job's noise source.
  static at::Tensor draw(sdk::NoiseSource& noise, const at::Tensor& like);
  /// x0 from a VP-scaled sample (x = sqrt(ᾱ)·x0 + sqrt(1-ᾱ)·ε), per prediction_type.
  at::Tensor vp_x0(const at::Tensor& out, const at::Tensor& x, double ac) const;
  /// Fills ts_ from timesteps_ (call at the end of build()).
  void index_timesteps();

  std::string feature_;
  SamplerConfig cfg_;
  std::vector<double> ac_;          ///< ᾱ_t, t = 0 … T-1 (float32 values)
  at::Tensor ac_tensor_;            ///< float32 [T]
  std::vector<double> sigma_train_; ///< σ_train[t], float32 values
  std::vector<double> log_sigmas_;  ///< float32 log σ_train[t]
  std::int64_t num_steps_ = 0;
  std::int64_t offset_ = 0;         ///< calls skipped (img2img)
  at::Tensor timesteps_;            ///< full, native dtype: [num_calls]
  at::Tensor sigmas_;               ///< float32 table or undefined
  std::vector<double> ts_;          ///< timesteps_ as doubles

 private:
  sdk::Status check_call(std::int64_t call, const char* what) const;
};

}  // namespace sdxl::schedulers
