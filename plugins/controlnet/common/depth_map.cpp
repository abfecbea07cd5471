#include "depth_map.h"

#include <ATen/ATen.h>

namespace sdxl::cntypes {

at::Tensor normalise_unit(const at::Tensor& map) {
  const at::Tensor lo = map.min(), hi = map.max();
  const double range = (hi - lo).item<double>();
  if (!(range > 0)) return at::zeros_like(map);  // also catches NaN
  return (map - lo) / range;
}

sdk::Result<at::Tensor> estimate_depth(const std::string& type, ModelRunner& model, const at::Tensor& image,
                                       const ModelSettings& settings, DepthOutput meaning) {
  auto outputs = model.run(model_input(image, settings));
  if (!outputs.ok()) return sdk::Status(outputs.status().code(), type + ": " + outputs.status().message());
  auto map = spatial_output(type + ": " + model.describe(), outputs.value(), 1);  // [1, h, w]
  if (!map.ok()) return map.status();
  at::Tensor depth = resize_maps(map.value(), image.size(0), image.size(1)).squeeze(0);  // [H, W]
  if (!at::isfinite(depth).all().item<bool>())
    return sdk::invalid_argument(type + ": " + model.describe() + " produced NaN or infinite depth values");
  at::Tensor unit = normalise_unit(depth);
  return meaning == DepthOutput::disparity ? unit : (1.0 - unit) * (unit.max() > 0).to(at::kFloat);
}

}  // namespace sdxl::cntypes
