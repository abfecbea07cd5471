// Entry of the DDIM-family scheduler plugin library.
#include "ddim_family.h"
#include "sdxl/sdk/entry.h"

namespace {
class DdimFamilyPlugin final : public sdxl::schedulers::SchedulerPlugin {
 public:
  DdimFamilyPlugin()
      : SchedulerPlugin(sdxl::schedulers::ddim_family_plugin_info(), sdxl::schedulers::ddim_family_features()) {}
};
}  // namespace

SDXL_DEFINE_PLUGIN(DdimFamilyPlugin, "org.sdxl.schedulers.ddim_family")
