#pragma once
// The k-diffusion family (σ-scaled samplers) and its feature table.
#include <memory>
#include <string>
#include <vector>

#include "sampler_config.h"
#include "scheduler_plugin.h"

namespace sdxl::schedulers {

std::unique_ptr<sdk::Scheduler> make_euler(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_euler_ancestral(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_lms(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_heun(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_dpm2(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_dpm2_ancestral(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_dpmpp_2s_ancestral(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_ipndm(const std::string& feature, SamplerConfig cfg);

/// Features of org.sdxl.schedulers.kdiffusion.
std::vector<FeatureDef> kdiffusion_features();
sdk::PluginInfo kdiffusion_plugin_info();

}  // namespace sdxl::schedulers
