#include "gpu/host_device_ops.h"

#include "gpu/group_norm_nhwc.h"

namespace sdxl::gpu {
namespace {

class HostDeviceOps final : public sdk::DeviceOps {
 public:
  at::Tensor group_norm(const at::Tensor& x, std::int64_t groups, const at::Tensor& weight, const at::Tensor& bias,
                        double eps, bool silu) const override {
    return group_norm_nhwc(x, groups, weight, bias, eps, silu);  // catches everything itself
  }
};

}  // namespace

const sdk::DeviceOps& host_device_ops() {
  static const HostDeviceOps ops;
  return ops;
}

}  // namespace sdxl::gpu
