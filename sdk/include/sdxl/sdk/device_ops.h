#pragma once
/// @file device_ops.h
/// Faster versions of common network operations that the host lends plugins (the host's own
/// CUDA kernels), so a plugin's networks get them without compiling GPU code of their own.
/// @since 1.1
///
/// Contract: each operation returns an undefined tensor where the host has nothing faster for
/// that input (a CPU tensor, a memory layout or dtype its kernels do not take, a build without
/// them); the plugin then computes it with libtorch. It never throws.
/// Thread rules: callable from any thread. Ownership: the host owns the object (HostServices::ops).

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace sdxl::sdk {
inline namespace v1 {

class DeviceOps {
 public:
  virtual ~DeviceOps() = default;
  /// GroupNorm of x [N, C, H, W] with per-channel `weight` and `bias` (x's dtype and device),
  /// followed by SiLU when `silu`. The result keeps x's memory format (channels-last stays
  /// channels-last, which libtorch's GroupNorm does not do).
  virtual at::Tensor group_norm(const at::Tensor& x, std::int64_t groups, const at::Tensor& weight,
                                const at::Tensor& bias, double eps, bool silu) const = 0;
};

}  // namespace v1
}  // namespace sdxl::sdk
