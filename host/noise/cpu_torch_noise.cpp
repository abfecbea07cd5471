#include "noise/cpu_torch_noise.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>


namespace sdxl::noise {

CpuTorchNoise::CpuTorchNoise(std::uint64_t seed)
    : seed_(seed), gen_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

at::Tensor CpuTorchNoise::randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) {
  // at::randn takes the generator's own lock; taking it here too would deadlock.
  at::Tensor t = at::randn(shape, gen_, at::TensorOptions().dtype(dtype).device(at::kCPU));
  return device.is_cpu() ? t : t.to(device);
}

}  // namespace sdxl::noise
