// Registers the scheduler-trajectory golden handler (host/golden/scheduler_golden.h). It runs
// cases through the scheduler plugins of the registry `sdxl golden` loads.
#include "golden/scheduler_golden.h"

SDXL_REGISTER_GOLDEN_HANDLER(sdxl::golden::SchedulerGoldenHandler)
