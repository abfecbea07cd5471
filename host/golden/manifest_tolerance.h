#pragma once
// Tolerances from a models-case manifest's "suggested_tolerance": keys are glob patterns over
// tensor names, alternatives separated by '|' ("step*.*|latents_final"). When several patterns
// match, the most specific one wins (most literal characters), so "step0.*" beats "step*.*".

#include <nlohmann/json.hpp>
#include <string>

namespace sdxl::golden {

struct Tolerance {
  double atol = 0.0;
  double rtol = 0.0;
  bool found = false;  ///< a pattern matched
};

/// Glob with '*' only.
bool glob_match(const std::string& pattern, const std::string& text);

Tolerance manifest_tolerance(const nlohmann::json& manifest, const std::string& tensor, Tolerance fallback);

}  // namespace sdxl::golden
