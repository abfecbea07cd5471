#pragma once
// Samplers on integer training timesteps in VP scaling, and their feature table.
#include <memory>
#include <string>
#include <vector>

#include "sampler_config.h"
#include "scheduler_plugin.h"

namespace sdxl::schedulers {

std::unique_ptr<sdk::Scheduler> make_ddim(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_ddpm(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_pndm(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_lcm(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_tcd(const std::string& feature, SamplerConfig cfg);

/// Features of org.sdxl.schedulers.ddim_family.
std::vector<FeatureDef> ddim_family_features();
sdk::PluginInfo ddim_family_plugin_info();

}  // namespace sdxl::schedulers
