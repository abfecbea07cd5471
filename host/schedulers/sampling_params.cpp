#include "schedulers/sampling_params.h"

#include <cmath>
#include <string>

namespace sdxl::schedulers {

sdk::Status validate_steps(std::int64_t steps) {
  if (steps < 1) return sdk::invalid_argument("steps must be at least 1, got " + std::to_string(steps));
  return sdk::Status::Ok();
}

sdk::Status validate_eta(double eta) {
  if (!(eta >= 0.0) || !std::isfinite(eta)) return sdk::invalid_argument("eta must be >= 0, got " + std::to_string(eta));
  return sdk::Status::Ok();
}

sdk::Status validate_strength(double strength) {
  if (!(strength > 0.0 && strength <= 1.0))
    return sdk::invalid_argument("strength must be in (0, 1], got " + std::to_string(strength));
  return sdk::Status::Ok();
}

sdk::Result<std::int64_t> img2img_t_start(std::int64_t steps, double strength) {
  if (auto st = validate_steps(steps); !st.ok()) return st;
  if (auto st = validate_strength(strength); !st.ok()) return st;
  // Python: int(num_inference_steps * strength), evaluated in double and truncated.
  const auto init_timestep = std::min(static_cast<std::int64_t>(static_cast<double>(steps) * strength), steps);
  const std::int64_t t_start = std::max<std::int64_t>(steps - init_timestep, 0);
  if (t_start >= steps)
    return sdk::invalid_argument("strength " + std::to_string(strength) + " with " + std::to_string(steps) +
                                 " steps leaves no denoising step; raise strength or steps");
  return t_start;
}

sdk::Result<std::int64_t> apply_img2img_strength(sdk::Scheduler& s, std::int64_t steps, double strength) {
  auto t_start = img2img_t_start(steps, strength);
  if (!t_start.ok()) return t_start.status();
  if (t_start.value() > 0) {
    if (auto st = s.skip_calls(t_start.value() * s.order()); !st.ok()) return st;
  }
  return t_start.value();
}

}  // namespace sdxl::schedulers
