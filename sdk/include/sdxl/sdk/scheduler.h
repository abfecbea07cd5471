#pragma once
/// @file scheduler.h
/// Kind `scheduler`: a sampler with its sigma/timestep schedule, called the way the diffusers
/// pipelines call a scheduler, so a trajectory can be compared call for call.
/// @since 1.0
///
/// The loop the host runs (txt2img):
///   s->set_timesteps(N);  x = noise * s->init_noise_sigma();
///   for call in 0 .. s->timesteps().size(0)-1:
///     out = unet(s->scale_model_input(x, call), s->timesteps()[call]);
///     x = s->step(out, call, x, noise).prev_sample;
/// img2img: after set_timesteps the host calls skip_calls(t_start * order()) and starts from
/// add_noise(x0, noise, 0); call indices then count from the first remaining call.
///
/// Thread rules: one Scheduler object serves one job at a time (it holds the solver's history).
/// Ownership: the host owns the object (unique_ptr) and destroys it through its virtual
/// destructor; tensors are returned by value.

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "sdxl/sdk/host_services.h"
#include "sdxl/sdk/status.h"

namespace sdxl::sdk {
inline namespace v1 {

/// Result of one step().
struct StepResult {
  at::Tensor prev_sample;  ///< sample for the next call
  at::Tensor denoised;     ///< the step's clean-sample estimate, where the sampler has one (may be undefined)
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  /// Builds the schedule for `num_inference_steps` steps and resets all solver state.
  virtual Status set_timesteps(std::int64_t num_inference_steps) = 0;

  /// Drops the first `calls` entries (img2img truncation). Counting restarts at 0.
  virtual Status skip_calls(std::int64_t calls) = 0;

  /// One timestep per remaining model call, in the dtype the sampler keeps (int64, float32 or
  /// float64): the exact value the model is conditioned on.
  virtual at::Tensor timesteps() const = 0;

  /// The sampler's sigma table after set_timesteps (full, not truncated); undefined for samplers
  /// that have none (DDIM, DDPM, PNDM, LCM, TCD).
  virtual at::Tensor sigmas() const { return {}; }

  /// Factor applied to unit-variance noise to start txt2img.
  virtual double init_noise_sigma() const = 0;

  /// Steps per timestep of the underlying solver (1 for most; img2img multiplies t_start by it).
  virtual std::int64_t order() const { return 1; }

  /// The model input for call `call`.
  virtual Result<at::Tensor> scale_model_input(const at::Tensor& sample, std::int64_t call) = 0;

  /// Advances `sample` using the model's output for call `call`. Draws random numbers only from
  /// `noise` (and only when the sampler is stochastic).
  virtual Result<StepResult> step(const at::Tensor& model_output, std::int64_t call,
                                  const at::Tensor& sample, NoiseSource& noise) = 0;

  /// Noises a clean sample to the level of remaining call `call` (img2img start).
  virtual Result<at::Tensor> add_noise(const at::Tensor& clean, const at::Tensor& noise,
                                       std::int64_t call) = 0;

  /// Capability lookup by stable string id (CLAP-style); nullptr when not supported.
  virtual void* extension(const char* /*id*/) { return nullptr; }
};

}  // namespace v1
}  // namespace sdxl::sdk
