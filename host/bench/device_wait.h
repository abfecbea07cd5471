#pragma once
// Benchmarks time the GPU by waiting for it: a value read back to the host waits for every kernel
// and copy queued before it on the device's stream. Header-only (bench/ and `sdxl bench`).
#include <ATen/ATen.h>

namespace sdxl::bench {

/// Returns when the work queued on `device` is done; nothing to wait for on the CPU.
inline void wait_for_device(c10::Device device) {
  if (device.is_cuda()) (void)at::zeros({1}, at::TensorOptions().device(device)).cpu();
}

}  // namespace sdxl::bench
