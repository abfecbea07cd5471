#include "kl_precision.h"

#include <ATen/detail/CUDAHooksInterface.h>

namespace sdxl::vae_kl {

c10::ScalarType kl_compute_dtype(const PrecisionInputs& in) {
  const c10::ScalarType want = in.job_dtype;
  if (want != c10::kHalf && want != c10::kBFloat16) return want;
  if (in.force_upcast == "on") return c10::kFloat;
  if (want == c10::kHalf) {
    if (in.device.is_cpu()) return c10::kFloat;
    if (in.force_upcast == "auto" && in.config_force_upcast) return in.native_bfloat16 ? c10::kBFloat16 : c10::kFloat;
  }
  return want;
}

bool device_has_native_bfloat16(c10::Device device) {
  if (!device.is_cuda()) return false;
  try {
    // Reads the current device's properties: the host runs on one GPU, the one it loads onto.
    return at::detail::getCUDAHooks().supportsBFloat16ConvolutionWithCuDNNv8();
  } catch (const std::exception&) {
    return false;  // no CUDA after all: float32, the safe choice
  }
}

}  // namespace sdxl::vae_kl
