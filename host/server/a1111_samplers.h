#pragma once
// A1111's sampler vocabulary ↔ our scheduler features. A1111 (1.9+) names a sampler ("DPM++ 2M")
// and a schedule type separately ("Karras", field `scheduler`); older clients put both in
// sampler_name ("DPM++ 2M Karras"). Our features carry the schedule as a suffix
// (dpmpp_2m_karras).

#include <string>
#include <utility>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::server {

struct A1111Schedule {
  const char* name;    ///< A1111's id ("karras")
  const char* label;   ///< A1111's label ("Karras")
  const char* suffix;  ///< our feature suffix ("_karras"; "" for automatic)
};
const std::vector<A1111Schedule>& a1111_schedules();

/// Our feature for A1111's (sampler_name, scheduler): ("DPM++ 2M", "Karras") → "dpmpp_2m_karras".
/// `available` are the scheduler features the server has; an empty sampler_name → "" (the
/// model's own). A sampler_name that is no A1111 name is passed through (our names and aliases
/// work too). invalid_argument when the pair names no available feature, listing what exists.
sdk::Result<std::string> a1111_to_feature(const std::string& sampler_name, const std::string& scheduler,
                                          const std::vector<std::string>& available);

/// ("DPM++ 2M", "Karras") for dpmpp_2m_karras; unknown features keep their name, schedule "Automatic".
std::pair<std::string, std::string> feature_to_a1111(const std::string& feature);

}  // namespace sdxl::server
