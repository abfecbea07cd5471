// Entry of the k-diffusion scheduler plugin library.
#include "kdiffusion_samplers.h"
#include "sdxl/sdk/entry.h"

namespace {
class KdiffusionPlugin final : public sdxl::schedulers::SchedulerPlugin {
 public:
  KdiffusionPlugin()
      : SchedulerPlugin(sdxl::schedulers::kdiffusion_plugin_info(), sdxl::schedulers::kdiffusion_features()) {}
};
}  // namespace

SDXL_DEFINE_PLUGIN(KdiffusionPlugin, "org.sdxl.schedulers.kdiffusion")
