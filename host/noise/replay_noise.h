#pragma once
// Serves recorded random draws back, per model call (golden replay, README section 6 of the
// scheduler goldens): during call i the scheduler gets the next unused draw recorded for call i.
// Asking for a draw where the reference made none, or of another shape, is recorded as an error
// (and answered with zeros so the run can finish and report it).
//
// Thread rules: one job, one thread. Ownership: holds the draw tensors.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sdxl/sdk/host_services.h"

namespace sdxl::noise {

class ReplayNoise final : public sdk::NoiseSource {
 public:
  /// draws_per_call[i]: the tensors recorded during call i, in order.
  explicit ReplayNoise(std::vector<std::vector<at::Tensor>> draws_per_call);
  /// Selects the call whose draws are served next.
  void begin_call(std::int64_t call);
  at::Tensor randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) override;
  /// Empty while every request was served; otherwise what went wrong first.
  const std::string& error() const { return error_; }
  /// Draws served so far.
  std::int64_t served() const { return served_; }

 private:
  std::vector<std::vector<at::Tensor>> draws_;
  std::vector<size_t> next_;
  std::int64_t call_ = 0;
  std::int64_t served_ = 0;
  std::string error_;
};

}  // namespace sdxl::noise
