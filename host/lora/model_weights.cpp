#include "lora/model_weights.h"

#include <ATen/ATen.h>

namespace sdxl::lora {

sdk::Status add_component_file(const std::filesystem::path& file, const std::string& component, c10::ScalarType dtype,
                               WeightMap* weights) {
  auto f = io::SafetensorsFile::open(file);
  if (!f.ok()) return f.status();
  for (const auto& e : f.value()->entries()) {
    if (e.name.rfind("model.diffusion_model.", 0) == 0)
      return sdk::invalid_argument(file.string() + ": tensor '" + e.name +
                                   "' uses single-file (SGM) names; pass a diffusers-named component file");
    auto t = f.value()->tensor(e.name);
    if (!t.ok()) return t.status();
    // Always an owned copy: merged values must never alias the mapping of the input file.
    (*weights)[component + "." + e.name] = t.value().to(dtype, /*non_blocking=*/false, /*copy=*/true);
  }
  return {};
}

ParamShapes param_shapes(const WeightMap& weights) {
  ParamShapes shapes;
  for (const auto& [name, t] : weights) shapes[name] = t.sizes().vec();
  return shapes;
}

}  // namespace sdxl::lora
