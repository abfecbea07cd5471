// Entry of the DPM-Solver scheduler plugin library.
#include "dpm_solver.h"
#include "sdxl/sdk/entry.h"

namespace {
class DpmSolverPlugin final : public sdxl::schedulers::SchedulerPlugin {
 public:
  DpmSolverPlugin()
      : SchedulerPlugin(sdxl::schedulers::dpm_solver_plugin_info(), sdxl::schedulers::dpm_solver_features()) {}
};
}  // namespace

SDXL_DEFINE_PLUGIN(DpmSolverPlugin, "org.sdxl.schedulers.dpm_solver")
