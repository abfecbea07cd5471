#include "noise/per_image_noise.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace sdxl::noise {

PerImageNoise::PerImageNoise(std::uint64_t first_seed, std::int64_t batch) {
  for (std::int64_t i = 0; i < std::max<std::int64_t>(batch, 1); ++i)
    gens_.push_back(at::make_generator<at::CPUGeneratorImpl>(first_seed + static_cast<std::uint64_t>(i)));
}

at::Tensor PerImageNoise::randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) {
  const auto opts = at::TensorOptions().dtype(dtype);
  const auto batch = static_cast<std::int64_t>(gens_.size());
  if (shape.empty() || shape[0] != batch || batch == 1)
    return at::randn(shape, gens_[0], opts).to(device);
  std::vector<std::int64_t> row(shape.begin(), shape.end());
  row[0] = 1;
  std::vector<at::Tensor> rows;
  for (auto& g : gens_) rows.push_back(at::randn(row, g, opts));
  return at::cat(rows).to(device);
}

}  // namespace sdxl::noise
