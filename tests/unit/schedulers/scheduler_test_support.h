#pragma once
// Test support: the three scheduler plugins as objects (linked in, no loader), scheduler
// creation from a mapped diffusers config, and golden-case lookup.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ddim_family.h"
#include "dpm_solver.h"
#include "kdiffusion_samplers.h"
#include "schedulers/diffusers_config.h"
#include "test_paths.h"

namespace sdxl::test {

inline std::vector<std::unique_ptr<sdk::Plugin>> scheduler_plugins() {
  using namespace sdxl::schedulers;
  std::vector<std::unique_ptr<sdk::Plugin>> p;
  p.push_back(std::make_unique<SchedulerPlugin>(ddim_family_plugin_info(), ddim_family_features()));
  p.push_back(std::make_unique<SchedulerPlugin>(kdiffusion_plugin_info(), kdiffusion_features()));
  p.push_back(std::make_unique<SchedulerPlugin>(dpm_solver_plugin_info(), dpm_solver_features()));
  return p;
}

/// Creates `feature` with `options` (fitted to the feature's schema) from the linked plugins.
inline sdk::Result<std::unique_ptr<sdk::Scheduler>> create_scheduler(const std::string& feature,
                                                                     const sdk::Options& options = {}) {
  static auto plugins = scheduler_plugins();
  for (auto& p : plugins) {
    for (const auto& f : p->info().features) {
      if (f.name != feature) continue;
      auto fitted = schedulers::fit_to_schema(options, f.options, feature);
      if (!fitted.ok()) return fitted.status();
      return p->create_scheduler(feature, fitted.value(), sdk::HostServices{});
    }
  }
  return sdk::not_found("no linked scheduler feature '" + feature + "'");
}

inline std::filesystem::path scheduler_golden_dir() { return sdxl::test_paths::golden_dir() / "schedulers"; }

}  // namespace sdxl::test
