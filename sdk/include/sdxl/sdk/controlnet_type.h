#pragma once
/// @file controlnet_type.h
/// Kind `controlnet_type`: turns an input picture into the control image a ControlNet of that
/// type was trained on (edges, depth, pose…), and says which defaults suit it.
/// @since 1.0
///
/// Pictures cross the boundary as uint8 tensors [H, W, 3], RGB, contiguous, on the CPU.
/// Thread rules: preprocess() may be called concurrently. Ownership: returns a new tensor.

#include <ATen/core/Tensor.h>

#include <string>

#include "sdxl/sdk/host_services.h"
#include "sdxl/sdk/status.h"

namespace sdxl::sdk {
inline namespace v1 {

struct ControlDefaults {
  double conditioning_scale = 1.0;
  double guidance_start = 0.0;  ///< fraction of steps
  double guidance_end = 1.0;
  bool needs_model_file = false;  ///< a learned preprocessor that needs a user-supplied model
};

class ControlNetType {
 public:
  virtual ~ControlNetType() = default;
  /// `image`: uint8 [H, W, 3] RGB. Returns the control image, uint8 [H, W, 3].
  virtual Result<at::Tensor> preprocess(const at::Tensor& image, JobContext* job) = 0;
  virtual ControlDefaults defaults() const { return {}; }
  virtual void* extension(const char* /*id*/) { return nullptr; }
};

}  // namespace v1
}  // namespace sdxl::sdk
