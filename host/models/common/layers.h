#pragma once
// Functional building blocks with the parameter names of the checkpoints (weight / bias), built
// from a WeightReader. No torch::nn: each struct holds its tensors and applies one ATen call.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>

#include "models/common/weight_reader.h"

namespace sdxl::models {

/// An extra output term of a Linear / Conv2d that leaves the layer's weights untouched (runtime
/// LoRA): y = layer(x) + adapter(x). Adapters are attached to a weight *tensor* (its TensorImpl),
/// so every network that computes with that tensor through Linear, Conv2d or
/// add_linear_adapter() gains the term without knowing about LoRA, and networks need no names.
/// Thread rules: attach/detach while no forward pass runs (the caller serialises jobs); lookups
/// from concurrent forward passes are safe.
class LayerAdapter {
 public:
  virtual ~LayerAdapter() = default;
  /// x: [..., in] -> [..., out]
  virtual at::Tensor linear(const at::Tensor& x) const = 0;
  /// x: [N, in, H, W] -> [N, out, H', W'] with the layer's stride and padding
  virtual at::Tensor conv2d(const at::Tensor& x, std::int64_t stride, std::int64_t padding) const = 0;
};

/// Attaches `adapter` to `weight` (replacing any previous one); a null adapter detaches. The
/// table keeps `weight` alive while an adapter is attached.
void set_layer_adapter(const at::Tensor& weight, std::shared_ptr<const LayerAdapter> adapter);
/// The adapter attached to `weight`, or null.
std::shared_ptr<const LayerAdapter> layer_adapter(const at::Tensor& weight);
/// Number of weights with an adapter in this process (0: every lookup is a single atomic load).
std::size_t layer_adapter_count();
/// y + adapter(x) when an adapter is attached to `weight`, else y. For networks that call
/// at::linear directly.  y: [..., out], x: [..., in]
at::Tensor add_linear_adapter(const at::Tensor& y, const at::Tensor& x, const at::Tensor& weight);

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
  /// The norm followed by SiLU (a ResNet block's order); one fused pass on channels-last CUDA.
  at::Tensor with_silu(const at::Tensor& x) const;
};

/// LayerNorm over the last dimension.
struct LayerNorm {
  at::Tensor weight, bias;
  double eps = 1e-5;
  void load(WeightReader& r, const std::string& prefix, std::int64_t channels, double eps = 1e-5);
  at::Tensor operator()(const at::Tensor& x) const;  // x: [..., C]
};

}  // namespace sdxl::models
