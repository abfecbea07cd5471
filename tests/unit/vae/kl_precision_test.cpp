// The kl VAE's compute dtype (kl_precision.h): every job dtype against every force_upcast value,
// config.json's wish, the device and whether it has native bfloat16.
#include <catch2/catch.hpp>

#include "kl_precision.h"

using sdxl::vae_kl::kl_compute_dtype;
using sdxl::vae_kl::PrecisionInputs;

namespace {

c10::ScalarType dtype_for(c10::ScalarType job, const std::string& option, bool config_upcast, c10::Device device,
                          bool native_bf16) {
  PrecisionInputs in;
  in.job_dtype = job;
  in.force_upcast = option;
  in.config_force_upcast = config_upcast;
  in.device = device;
  in.native_bfloat16 = native_bf16;
  return kl_compute_dtype(in);
}

const c10::Device kGpu(c10::kCUDA, 0);
const c10::Device kCpu(c10::kCPU);

}  // namespace

TEST_CASE("kl precision: float16 jobs that would overflow decode in bfloat16 where the GPU has it", "[vae][kl]") {
  // auto + config.json force_upcast (the original SDXL VAE)
  CHECK(dtype_for(c10::kHalf, "auto", true, kGpu, true) == c10::kBFloat16);
  CHECK(dtype_for(c10::kHalf, "auto", true, kGpu, false) == c10::kFloat);  // e.g. a Turing GPU
  CHECK(dtype_for(c10::kHalf, "auto", true, kCpu, false) == c10::kFloat);
  // An fp16-fix VAE (config force_upcast false) runs as the job
  CHECK(dtype_for(c10::kHalf, "auto", false, kGpu, true) == c10::kHalf);
  CHECK(dtype_for(c10::kHalf, "auto", false, kCpu, false) == c10::kFloat);  // no fp16 CPU convolutions
  // on: float32 whatever the GPU; off: as asked
  CHECK(dtype_for(c10::kHalf, "on", true, kGpu, true) == c10::kFloat);
  CHECK(dtype_for(c10::kHalf, "off", true, kGpu, true) == c10::kHalf);
  CHECK(dtype_for(c10::kHalf, "off", true, kCpu, false) == c10::kFloat);
}

TEST_CASE("kl precision: bfloat16 and float32 jobs keep their dtype unless upcast is on", "[vae][kl]") {
  for (const c10::Device& device : {kGpu, kCpu}) {
    for (bool config_upcast : {true, false}) {
      CHECK(dtype_for(c10::kBFloat16, "auto", config_upcast, device, device.is_cuda()) == c10::kBFloat16);
      CHECK(dtype_for(c10::kBFloat16, "off", config_upcast, device, device.is_cuda()) == c10::kBFloat16);
      CHECK(dtype_for(c10::kBFloat16, "on", config_upcast, device, device.is_cuda()) == c10::kFloat);
      for (const char* option : {"auto", "on", "off"})
        CHECK(dtype_for(c10::kFloat, option, config_upcast, device, device.is_cuda()) == c10::kFloat);
    }
  }
}

TEST_CASE("kl precision: only a CUDA device can have native bfloat16", "[vae][kl]") {
  CHECK_FALSE(sdxl::vae_kl::device_has_native_bfloat16(kCpu));
}
