#pragma once
// Maps a diffusers scheduler (class name + scheduler_config.json keys + step() kwargs) onto one
// of our scheduler features and its option values. Keys the class does not know are ignored,
// as diffusers ignores them; settings we do not implement (thresholding, trained_betas,
// zero-SNR rescaling, PRK warm-up, learned variances, …) are refused with a message naming them.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "sdxl/sdk/options.h"
#include "sdxl/sdk/status.h"

namespace sdxl::schedulers {

struct SchedulerChoice {
  std::string feature;   ///< e.g. "dpmpp_2m_karras"
  sdk::Options options;  ///< values for the feature's option keys (subset of its schema)
};

/// `config` is the scheduler_config.json object (its "_class_name" is used when `class_name` is
/// empty). `step_kwargs` are extra step() arguments such as {"eta": 0.5}.
sdk::Result<SchedulerChoice> from_diffusers_config(const nlohmann::json& config, std::string class_name = {},
                                                   const nlohmann::json& step_kwargs = nlohmann::json::object());

/// The options of `choice` restricted to the keys of `schema`, converted to the schema's types
/// (an integral JSON number for a float option becomes a double, and so on).
sdk::Result<sdk::Options> fit_to_schema(const sdk::Options& options, const std::vector<sdk::OptionSpec>& schema,
                                        const std::string& feature);

/// The diffusers class names from_diffusers_config understands.
std::vector<std::string> supported_diffusers_classes();

}  // namespace sdxl::schedulers
