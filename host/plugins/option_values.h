#pragma once
// Checking option values against a feature's schema: from TOML (with line:column) and from
// in-process overrides (scheduler config mapping, CLI).

#include <string>
#include <vector>

#include <toml++/toml.h>

#include "sdxl/sdk/options.h"
#include "sdxl/sdk/status.h"

namespace sdxl::plugins {

bool has_option(const std::vector<sdk::OptionSpec>& schema, const std::string& key);
const sdk::OptionSpec* find_option(const std::vector<sdk::OptionSpec>& schema, const std::string& key);

/// Checks one value against its spec (type, range, choices). Empty string when fine.
std::string check_value(const sdk::OptionSpec& spec, const sdk::OptionValue& value);

/// `base` with every key of `overrides` applied; unknown keys and bad values are errors that name
/// the feature and the key.
sdk::Result<sdk::Options> apply_overrides(const std::vector<sdk::OptionSpec>& schema, const sdk::Options& base,
                                          const sdk::Options& overrides, const std::string& feature);

/// Converts a TOML value to an option value of the spec's type (an integer is accepted for a
/// float option). Error text carries `file:line:column`.
sdk::Result<sdk::OptionValue> option_from_toml(const sdk::OptionSpec& spec, const toml::node& node,
                                               const std::string& where);

/// A number as people write it: 0.5, 8, 1e-05 (no trailing zeros).
std::string format_number(double v);

/// "file:line:column" of a TOML node.
std::string toml_location(const toml::node& node, const std::string& file);

}  // namespace sdxl::plugins
