#include "scheduler_plugin.h"

namespace sdxl::schedulers {

SchedulerPlugin::SchedulerPlugin(sdk::PluginInfo info, std::vector<FeatureDef> defs)
    : info_(std::move(info)), defs_(std::move(defs)) {
  for (const auto& d : defs_) {
    sdk::FeatureInfo f;
    f.kind = sdk::FeatureKind::scheduler;
    f.name = d.name;
    f.aliases = d.aliases;
    f.rank = sdk::rank::primary;
    f.description = d.description;
    f.options = make_schema(d.traits, d.presets);
    for (auto spec : d.extra) {
      auto it = d.presets.find(spec.key);
      if (it != d.presets.end()) spec.default_value = it->second;
      f.options.push_back(std::move(spec));
    }
    info_.features.push_back(std::move(f));
  }
}

sdk::Result<std::unique_ptr<sdk::Scheduler>> SchedulerPlugin::create_scheduler(const std::string& feature,
                                                                               const sdk::Options& options,
                                                                               const sdk::HostServices&) {
  return sdk::guard("scheduler plugin create", [&]() -> sdk::Result<std::unique_ptr<sdk::Scheduler>> {
    for (size_t i = 0; i < defs_.size(); ++i) {
      if (defs_[i].name != feature) continue;
      auto cfg = read_config(feature, info_.features[i].options, options);
      if (!cfg.ok()) return cfg.status();
      return defs_[i].make(feature, std::move(cfg.value()));
    }
    return sdk::not_found("plugin " + info_.id + " provides no scheduler '" + feature + "'");
  });
}

sdk::PluginInfo scheduler_plugin_info(std::string id, std::string name, std::string description) {
  sdk::PluginInfo p;
  p.id = std::move(id);
  p.name = std::move(name);
  p.version = "1.0.0";
  p.vendor = "sdxl-worker";
  p.license = "Apache-2.0";
  p.description = std::move(description);
  return p;
}

}  // namespace sdxl::schedulers
