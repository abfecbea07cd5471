#pragma once
// A scheduler plugin is a table of features: name, aliases, option schema (common keys with
// feature presets) and a constructor. SchedulerPlugin turns such a table into an sdk::Plugin;
// each family library (ddim_family, kdiffusion, dpm_solver) supplies its table and an entry.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sampler_config.h"
#include "scheduler_base.h"
#include "sdxl/sdk/plugin.h"

namespace sdxl::schedulers {

struct FeatureDef {
  std::string name;
  std::vector<std::string> aliases;
  std::string description;
  SchemaTraits traits;
  std::map<std::string, sdk::OptionValue> presets;  ///< schema defaults this feature changes
  std::function<std::unique_ptr<sdk::Scheduler>(const std::string& feature, SamplerConfig cfg)> make;
  std::vector<sdk::OptionSpec> extra = {};  ///< sampler-specific keys beyond SchemaTraits (after presets)
};

class SchedulerPlugin : public sdk::Plugin {
 public:
  SchedulerPlugin(sdk::PluginInfo info, std::vector<FeatureDef> defs);
  const sdk::PluginInfo& info() const override { return info_; }
  sdk::Result<std::unique_ptr<sdk::Scheduler>> create_scheduler(const std::string& feature, const sdk::Options& options,
                                                                const sdk::HostServices& services) override;

 private:
  sdk::PluginInfo info_;
  std::vector<FeatureDef> defs_;
};

/// PluginInfo with the common fields filled (version, vendor, license).
sdk::PluginInfo scheduler_plugin_info(std::string id, std::string name, std::string description);

}  // namespace sdxl::schedulers
