#pragma once
// Which dtype the kl VAE computes in, from the job's dtype, the force_upcast option, the VAE's
// config.json and the device.
//
// The original SDXL VAE's activations overflow float16 (its largest value is 65504) but not
// bfloat16, whose exponent range is float32's. So where float16 would overflow, the decode runs in
// bfloat16 on a GPU that computes it natively (CUDA compute capability 8.0 and newer, as
// ComfyUI does by default) — half of float32's memory, so a 2 GiB cap need not tile a 1024²
// decode (1612 instead of 3148 MiB by kl_memory.h's estimate) — and in float32 elsewhere, as
// diffusers does everywhere.

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace sdxl::vae_kl {

struct PrecisionInputs {
  c10::ScalarType job_dtype = c10::kFloat;  ///< what the host runs its networks in
  std::string force_upcast = "auto";        ///< the option: auto | on | off
  bool config_force_upcast = true;          ///< config.json's force_upcast (true for SDXL's VAE)
  c10::Device device = c10::Device(c10::kCPU);
  bool native_bfloat16 = false;             ///< the device runs bfloat16 convolutions natively
};

/// auto: float16 becomes bfloat16 (native_bfloat16) or float32 where config.json asks for an
/// upcast; bfloat16 and float32 stay. on: both 16-bit dtypes become float32. off: as the job.
/// On the CPU, float16 always becomes float32 (libtorch has no float16 CPU convolutions).
c10::ScalarType kl_compute_dtype(const PrecisionInputs& in);

/// Whether `device` computes bfloat16 convolutions natively: a CUDA device of compute
/// capability 8.0 or newer (asked of libtorch's CUDA hooks; false without CUDA).
bool device_has_native_bfloat16(c10::Device device);

}  // namespace sdxl::vae_kl
