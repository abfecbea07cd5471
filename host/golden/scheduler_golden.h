#pragma once
// Golden handler for scheduler trajectories (../shared/golden/schedulers, format
// "sdxl-scheduler-golden"). Replays a case through our scheduler features with the stand-in
// model of the README (section 4) and the recorded draws served per call, using only:
//   manifest: case, variant, scheduler_class, base_config, overrides, config, num_inference_steps,
//             step_kwargs, latent_shape, stand_in, img2img.strength, calls[].draws, draw_call_index
//   tensors:  noise_init, x0_clean, draw_*
// Outputs: timesteps, sigmas, call_XXX_{x_in,out,x_next,x0}, final. compare() checks the schedule
// (exact integer timesteps, timesteps_abs, sigmas_rtol) and the closed-loop tolerances.

#include <functional>
#include <memory>
#include <string>

#include "golden/golden_case.h"
#include "schedulers/diffusers_config.h"
#include "sdxl/sdk/scheduler.h"

namespace sdxl::golden {

/// Creates the scheduler for a mapped diffusers configuration.
using SchedulerFactory =
    std::function<sdk::Result<std::unique_ptr<sdk::Scheduler>>(const schedulers::SchedulerChoice& choice)>;

/// A factory over the plugin registry (the CLI's path).
SchedulerFactory registry_scheduler_factory(const plugins::PluginRegistry& registry);

/// The feature + options a scheduler case maps to (shared by the handler and the unit tests).
sdk::Result<schedulers::SchedulerChoice> scheduler_choice_for(const nlohmann::json& manifest);

/// out = float32(a·tanh(double(x_in)) + b·sin(π·t/1000)), elementwise in double.
at::Tensor scheduler_stand_in(const at::Tensor& x_in, double t, double a, double b);

class SchedulerGoldenHandler final : public GoldenHandler {
 public:
  /// Without a factory, replay() uses opts.registry.
  explicit SchedulerGoldenHandler(SchedulerFactory factory = {}) : factory_(std::move(factory)) {}
  std::string name() const override { return "schedulers"; }
  bool accepts(const GoldenCase& c) const override;
  std::set<std::string> allowed_manifest_keys(const GoldenCase& c) const override;
  std::set<std::string> allowed_tensors(const GoldenCase& c) const override;
  sdk::Result<TensorList> replay(const GoldenCase& c, const GoldenOptions& opts, nlohmann::json* json_out) const override;
  CompareReport compare(const GoldenCase& full, const TensorList& produced, const nlohmann::json& json_out) const override;

 private:
  SchedulerFactory factory_;
};

}  // namespace sdxl::golden
