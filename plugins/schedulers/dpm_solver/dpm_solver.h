#pragma once
// DPM-Solver++ (multistep, SDE, singlestep), UniPC and DEIS, and their feature table.
#include <memory>
#include <string>
#include <vector>

#include "sampler_config.h"
#include "scheduler_plugin.h"

namespace sdxl::schedulers {

std::unique_ptr<sdk::Scheduler> make_dpmpp_multistep(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_dpmpp_singlestep(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_unipc(const std::string& feature, SamplerConfig cfg);
std::unique_ptr<sdk::Scheduler> make_deis(const std::string& feature, SamplerConfig cfg);

/// Features of org.sdxl.schedulers.dpm_solver.
std::vector<FeatureDef> dpm_solver_features();
sdk::PluginInfo dpm_solver_plugin_info();

}  // namespace sdxl::schedulers
