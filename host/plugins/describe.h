#pragma once
// Plugin descriptions for people (`sdxl plugins`, gst-inspect style) and machines (`--json`,
// later the server's /v1/plugins). The JSON shape is a published contract:
// {"plugins":[{"id","name","library","version","vendor","license","description",
//   "features":[{"kind","name","aliases","rank","description","options":[…]}]}],
//  "rejected":[{"library","reason"}]}

#include <nlohmann/json.hpp>
#include <string>

#include "plugins/registry.h"

namespace sdxl::plugins {

nlohmann::json option_value_json(const sdk::OptionValue& v);
nlohmann::json registry_json(const PluginRegistry& registry);
/// Text listing of everything, or of one plugin (by id) or feature (by name/alias) when `only` is set.
/// Returns false when `only` matches nothing.
bool describe_text(const PluginRegistry& registry, const std::string& only, std::string& out);

}  // namespace sdxl::plugins
