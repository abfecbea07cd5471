#include "models/common/channels_last.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>  // c10::NoGradGuard (torch 2.11 no longer brings it with ATen.h)

namespace sdxl::models {

void reseat_channels_last(const std::map<std::string, at::Tensor>& parameters) {
  c10::NoGradGuard no_grad;
  for (const auto& [name, t] : parameters) {
    if (t.dim() != 4 || t.is_contiguous(at::MemoryFormat::ChannelsLast)) continue;
    const at::Tensor nhwc = t.contiguous(at::MemoryFormat::ChannelsLast);
    t.set_(nhwc.storage(), nhwc.storage_offset(), nhwc.sizes(), nhwc.strides());  // same TensorImpl
  }
}

}  // namespace sdxl::models
