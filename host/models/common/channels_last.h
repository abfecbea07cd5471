#pragma once
// Convolution weights in channels-last (NHWC) memory, re-seated in place: the layout cuDNN's
// tensor-core convolutions read. Each tensor keeps its TensorImpl, so whoever holds it (the
// layers, merged or runtime LoRAs, the memory arbiter's handles) sees the new layout. Used by the
// UNet and the ControlNet ([gpu] channels_last).

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace sdxl::models {

/// Re-seats every 4-D tensor of `parameters` that is not channels-last yet; the others are left.
void reseat_channels_last(const std::map<std::string, at::Tensor>& parameters);

}  // namespace sdxl::models
