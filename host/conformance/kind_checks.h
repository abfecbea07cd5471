#pragma once
// Per-kind contract checks used by the conformance kit (plugin_check.cpp).

#include <string>
#include <vector>

#include "conformance/plugin_check.h"
#include "plugins/registry.h"

namespace sdxl::conformance {

/// Collects outcomes; `expect` records one check.
struct Checker {
  std::vector<CheckOutcome>& out;
  bool expect(const std::string& name, bool ok, const std::string& detail) {
    out.push_back({name, ok, ok ? "" : detail});
    return ok;
  }
};

void check_aliases_resolve(Checker& c, const plugins::PluginRegistry& r, const sdk::FeatureInfo& f, const std::string& label);
void check_scheduler(Checker& c, const plugins::PluginRegistry& r, const sdk::FeatureInfo& f, const std::string& label);
void check_lora_format(Checker& c, const plugins::PluginRegistry& r, const sdk::FeatureInfo& f, const std::string& label);
void check_controlnet_type(Checker& c, const plugins::PluginRegistry& r, const sdk::FeatureInfo& f, const std::string& label);
void check_vae_variant(Checker& c, const plugins::PluginRegistry& r, const sdk::FeatureInfo& f, const std::string& label);

}  // namespace sdxl::conformance
