#pragma once
// Checks of user-facing sampling parameters and the img2img truncation of the SDXL img2img
// pipeline (README section 7 of the scheduler goldens):
//   init_timestep = min(int(N · strength), N); t_start = max(N − init_timestep, 0);
//   the first t_start · order calls are skipped and the sample starts from add_noise(x0, ε, 0).

#include <cstdint>

#include "sdxl/sdk/scheduler.h"
#include "sdxl/sdk/status.h"

namespace sdxl::schedulers {

sdk::Status validate_steps(std::int64_t steps);
sdk::Status validate_eta(double eta);
sdk::Status validate_strength(double strength);

/// t_start for `steps` and `strength` (strength in (0, 1]); error when no step would remain.
sdk::Result<std::int64_t> img2img_t_start(std::int64_t steps, double strength);

/// After set_timesteps(steps): skips t_start · order() calls. Returns t_start.
sdk::Result<std::int64_t> apply_img2img_strength(sdk::Scheduler& s, std::int64_t steps, double strength);

}  // namespace sdxl::schedulers
