// ControlNets of server jobs: loaded on the worker thread for the current model, kept for the
// next job (clients usually send runs of jobs with the same unit), and registered with the memory
// arbiter so admission can drop them when the room is needed for something else.
//
// Why a drop-only component: a ControlNet is cheap to re-read from its memory-mapped file and the
// next job that names it loads it again (load_controls re-registers it), so the arbiter needs no
// move or reload callback. Its ledger entry is the shared cache's ("controlnet:<stem>"), which
// registration replaces rather than counting the weights twice.
#include <ATen/ATen.h>

#include <algorithm>

#include "memory/arbiter.h"
#include "models/controlnet/controlnet_model.h"
#include "server/orchestrator_impl.h"
#include "util/logging.h"

namespace sdxl::server {

sdk::Result<std::vector<pipeline::ControlUnit>> Orchestrator::Impl::load_controls(const Job& job) {
  auto units = pipeline::load_control_units(job.controls, *model->unet, "model " + job.model);
  if (!units.ok()) return units.status();

  std::map<std::string, std::shared_ptr<const models::ControlNetModel>> now;
  for (const auto& u : units.value()) {
    const std::string tag = models::shared_controlnet_tag(*u.model);
    if (!tag.empty()) now[tag] = u.model;
  }
  // What the previous job kept and this one does not use goes (unregistered first: the arbiter
  // must not call back into a handle we are letting go of).
  std::vector<std::string> stale;
  for (const auto& name : controlnet_components)
    if (!now.count(name)) stale.push_back(name);
  if (opt.arbiter)
    for (const auto& name : stale)
      if (auto st = opt.arbiter->unregister_component(name); !st.ok()) util::log_warn("memory arbiter: " + st.message());
  std::vector<std::shared_ptr<const models::ControlNetModel>> released;  // freed outside the lock
  {
    std::lock_guard<std::mutex> lock(controlnet_mu);
    for (auto it = kept_controlnets.begin(); it != kept_controlnets.end();)
      if (!now.count(it->first)) {
        released.push_back(it->second);
        it = kept_controlnets.erase(it);
      } else {
        ++it;
      }
    for (const auto& [name, m] : now) kept_controlnets[name] = m;
  }
  released.clear();

  const std::vector<std::string> registered = std::move(controlnet_components);
  controlnet_components.clear();
  for (const auto& [name, m] : now) {
    controlnet_components.push_back(name);
    if (!opt.arbiter) continue;
    // Still registered and resident (not dropped meanwhile): keep its record and statistics.
    if (std::find(registered.begin(), registered.end(), name) != registered.end() && opt.arbiter->location(name)) continue;
    memory::ComponentRegistration r;
    r.name = name;
    r.device = m->device();
    r.bytes = m->resident_bytes();
    r.callbacks.drop = [this, name]() -> sdk::Status {
      std::shared_ptr<const models::ControlNetModel> victim;
      {
        std::lock_guard<std::mutex> lock(controlnet_mu);
        auto it = kept_controlnets.find(name);
        if (it == kept_controlnets.end()) return {};
        victim = std::move(it->second);
        kept_controlnets.erase(it);
      }
      victim.reset();  // the cache frees the weights when no running job holds them
      return {};
    };
    if (auto st = opt.arbiter->register_component(std::move(r)); !st.ok())
      util::log_warn("memory arbiter: " + st.message());
  }
  return units;
}

void Orchestrator::Impl::release_controlnets() {
  if (opt.arbiter)
    for (const auto& name : controlnet_components) (void)opt.arbiter->unregister_component(name);
  controlnet_components.clear();
  std::map<std::string, std::shared_ptr<const models::ControlNetModel>> released;
  {
    std::lock_guard<std::mutex> lock(controlnet_mu);
    released.swap(kept_controlnets);
  }
}

}  // namespace sdxl::server
