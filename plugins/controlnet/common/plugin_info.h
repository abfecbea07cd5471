#pragma once
// Descriptor boilerplate shared by the ControlNet type plugins (one feature per plugin).

#include <string>
#include <utility>
#include <vector>

#include "sdxl/sdk/plugin.h"

namespace sdxl::cntypes {

inline sdk::PluginInfo controlnet_plugin_info(std::string id, std::string name, std::string description,
                                              std::string feature, std::vector<std::string> aliases,
                                              std::string feature_description, std::vector<sdk::OptionSpec> options) {
  sdk::PluginInfo info;
  info.id = std::move(id);
  info.name = std::move(name);
  info.version = "1.0.0";
  info.vendor = "sdxl-worker";
  info.license = "Apache-2.0";
  info.description = std::move(description);
  sdk::FeatureInfo f;
  f.kind = sdk::FeatureKind::controlnet_type;
  f.name = std::move(feature);
  f.aliases = std::move(aliases);
  f.description = std::move(feature_description);
  f.options = std::move(options);
  info.features.push_back(std::move(f));
  return info;
}

}  // namespace sdxl::cntypes
