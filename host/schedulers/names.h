#pragma once
// Sampler name resolution: the canonical feature name, one of its aliases ("DPM++ 2M Karras",
// "Euler a", "euler_ancestral"), compared loosely (case, spaces, '-', '_' ignored; "++" = "pp").

#include <string>
#include <vector>

#include "sdxl/sdk/plugin.h"
#include "sdxl/sdk/status.h"

namespace sdxl::schedulers {

/// "DPM++ 2M Karras" → "dpmpp2mkarras".
std::string loose_name(const std::string& name);

/// The feature (by name) that `name_or_alias` designates among `features`, or not_found with
/// the list of available names.
sdk::Result<std::string> resolve_sampler(const std::string& name_or_alias, const std::vector<sdk::FeatureInfo>& features);

/// "unknown sampler 'x'; available: a, b, c".
std::string unknown_sampler_message(const std::string& name, const std::vector<std::string>& available);

}  // namespace sdxl::schedulers
