#pragma once
// Per-image seeds for a batch (A1111 convention: image i of a job has seed + i). A request for a
// tensor whose first dimension equals the batch draws row i from the CPU generator of image i, so
// image i is the same whether it was generated alone or in a batch, and a batch of one equals
// torch's CPU randn for that seed. Other shapes come from the generator of image 0.
//
// Thread rules: one job, one thread.

#include <ATen/core/Generator.h>

#include <cstdint>
#include <vector>

#include "sdxl/sdk/host_services.h"

namespace sdxl::noise {

class PerImageNoise final : public sdk::NoiseSource {
 public:
  PerImageNoise(std::uint64_t first_seed, std::int64_t batch);
  at::Tensor randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) override;

 private:
  std::vector<at::Generator> gens_;
};

}  // namespace sdxl::noise
