#pragma once
// The host's sdk::DeviceOps (HostServices::ops): its own CUDA kernels lent to plugins. Every
// operation answers "nothing faster" (an undefined tensor) where the kernels do not apply.
#include "sdxl/sdk/device_ops.h"

namespace sdxl::gpu {

/// The process's one instance (stateless; lives as long as the process).
const sdk::DeviceOps& host_device_ops();

}  // namespace sdxl::gpu
