#include "noise/replay_noise.h"

#include <ATen/ATen.h>

namespace sdxl::noise {

ReplayNoise::ReplayNoise(std::vector<std::vector<at::Tensor>> draws_per_call)
    : draws_(std::move(draws_per_call)), next_(draws_.size(), 0) {}

void ReplayNoise::begin_call(std::int64_t call) { call_ = call; }

at::Tensor ReplayNoise::randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) {
  auto zeros = [&] { return at::zeros(shape, at::TensorOptions().dtype(dtype).device(device)); };
  const auto c = static_cast<size_t>(call_);
  if (call_ < 0 || c >= draws_.size() || next_[c] >= draws_[c].size()) {
    if (error_.empty())
      error_ = "call " + std::to_string(call_) + " asked for a random draw the reference did not make";
    return zeros();
  }
  const at::Tensor& d = draws_[c][next_[c]++];
  if (d.sizes() != shape) {
    if (error_.empty()) error_ = "call " + std::to_string(call_) + " asked for a draw of another shape";
    return zeros();
  }
  ++served_;
  return d.to(device, dtype);
}

}  // namespace sdxl::noise
