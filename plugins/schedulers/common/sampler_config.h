#pragma once
// Option schemas shared by the scheduler features, and the validated configuration a sampler is
// built from. Keys and defaults are diffusers' scheduler_config.json keys with the SDXL base 1.0
// values, so a diffusers config maps onto a feature key for key.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "schedule_math.h"
#include "sdxl/sdk/options.h"
#include "sdxl/sdk/status.h"

namespace sdxl::schedulers {

/// Which optional keys a feature's schema carries.
struct SchemaTraits {
  bool has_spacing = true;         ///< timestep_spacing + steps_offset (not LCM/TCD/DPM++ 2S)
  bool has_sigma_schedule = false; ///< use_karras_sigmas + sigma_schedule (samplers with a σ table)
  bool has_eta = false;            ///< eta (DDIM, TCD)
  double eta_default = 0.0;
  bool has_s_noise = false;        ///< s_noise (ancestral / SDE samplers)
  bool has_churn = false;          ///< s_churn, s_tmin, s_tmax (Euler)
  bool has_solver_order = false;   ///< solver_order (DPM-Solver multistep, UniPC, DEIS)
  std::int64_t solver_order_default = 2;
  std::int64_t solver_order_max = 3;
  bool has_original_steps = false; ///< original_inference_steps, timestep_scaling (LCM, TCD)
  bool has_set_alpha_to_one = false; ///< set_alpha_to_one (DDIM, PNDM, LCM, TCD)
};

/// The schema: common keys first, then the sampler's own; `presets` replace defaults
/// (e.g. dpmpp_2m_karras presets use_karras_sigmas = true).
std::vector<sdk::OptionSpec> make_schema(const SchemaTraits& traits,
                                         const std::map<std::string, sdk::OptionValue>& presets = {});

/// One option spec (helper for feature tables).
sdk::OptionSpec option_spec(std::string key, sdk::OptionType type, sdk::OptionValue def, std::string description,
                            std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt,
                            std::vector<std::string> choices = {});

/// Validated values used by every sampler.
struct SamplerConfig {
  TrainSchedule train;
  std::string prediction_type = "epsilon";
  std::string timestep_spacing = "leading";
  std::int64_t steps_offset = 1;
  std::string sigma_schedule = "default";  ///< default | karras | exponential | sgm_uniform | beta | ays
  sdk::Options values;                     ///< every key of the schema (sampler-specific reads)
};

/// Checks `given` against `schema` (unknown key, wrong type, range, choices: invalid_argument
/// naming the feature and key) and fills absent keys with the schema defaults.
sdk::Result<SamplerConfig> read_config(const std::string& feature, const std::vector<sdk::OptionSpec>& schema,
                                       const sdk::Options& given);

}  // namespace sdxl::schedulers
