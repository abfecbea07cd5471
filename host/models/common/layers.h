#pragma once
// Functional building blocks with the parameter names of the checkpoints (weight / bias), built
// from a WeightReader. No torch::nn: each struct holds its tensors and applies one ATen call.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "models/common/weight_reader.h"

namespace sdxl::models {

/// y = x W^T + b.  weight: [out, in]
struct Linear {
  at::Tensor weight, bias;
  void load(WeightReader& r, const std::string& prefix, std::int64_t in, std::int64_t out, bool with_bias = true);
  at::Tensor operator()(const at::Tensor& x) const;  // x: [..., in] -> [..., out]
};

/// 2-D convolution, square kernel.  weight: [out, in, k, k]
struct Conv2d {
  at::Tensor weight, bias;
  std::int64_t stride = 1, padding = 0;
  void load(WeightReader& r, const std::string& prefix, std::int64_t in, std::int64_t out, std::int64_t kernel,
            std::int64_t stride = 1, std::int64_t padding = 0, bool with_bias = true);
  at::Tensor operator()(const at::Tensor& x) const;  // x: [N, in, H, W]
};

/// GroupNorm with affine weight/bias [C]. eps differs per model part (see the README checklist).
struct GroupNorm {
  at::Tensor weight, bias;
  std::int64_t groups = 32;
  double eps = 1e-5;
  void load(WeightReader& r, const std::string& prefix, std::int64_t channels, std::int64_t groups, double eps);
  at::Tensor operator()(const at::Tensor& x) const;  // x: [N, C, ...]
};

/// LayerNorm over the last dimension.
struct LayerNorm {
  at::Tensor weight, bias;
  double eps = 1e-5;
  void load(WeightReader& r, const std::string& prefix, std::int64_t channels, double eps = 1e-5);
  at::Tensor operator()(const at::Tensor& x) const;  // x: [..., C]
};

}  // namespace sdxl::models
