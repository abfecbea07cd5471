#pragma once
// The per-job noise source of the worker: torch's CPU Philox-free mt19937 generator, seeded per
// job, so a seed gives exactly what `torch.randn(shape, generator=torch.Generator().manual_seed(s))`
// gives in PyTorch (and diffusers' randn_tensor on CPU). Draws are made on the CPU in the requested
// dtype and then moved to the requested device, as diffusers does for CPU generators.
//
// Thread rules: one job, one thread. Ownership: plain value object.

#include <ATen/core/Generator.h>

#include <cstdint>

#include "sdxl/sdk/host_services.h"

namespace sdxl::noise {

class CpuTorchNoise final : public sdk::NoiseSource {
 public:
  explicit CpuTorchNoise(std::uint64_t seed);
  at::Tensor randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) override;
  std::uint64_t seed() const { return seed_; }

 private:
  std::uint64_t seed_;
  at::Generator gen_;
};

}  // namespace sdxl::noise
