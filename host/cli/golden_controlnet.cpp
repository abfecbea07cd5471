// Golden handler for the ControlNet case (cases/controlnet.safetensors): inputs + control picture
// -> down_residual.{0..8}, mid_residual, debug.cond_embedding, eps, eps_without_controlnet.
// `sdxl golden replay cases/controlnet.safetensors [--controlnet C] [--model-config DIR] [--model M]`.
// The work is done in models/controlnet/controlnet_golden.h, which the unit tests call directly.
#include "golden/golden_case.h"
#include "models/controlnet/controlnet_golden.h"

namespace sdxl::golden {
namespace {

class ControlNetGoldenHandler : public GoldenHandler {
 public:
  std::string name() const override { return "controlnet"; }
  bool accepts(const GoldenCase& c) const override { return models::is_controlnet_case(c); }
  std::set<std::string> allowed_manifest_keys(const GoldenCase&) const override {
    return {"case", "params", "tensors"};
  }
  std::set<std::string> allowed_tensors(const GoldenCase& c) const override {
    return models::controlnet_case_inputs(c.manifest);
  }
  bool runs_in_dtype() const override { return true; }
  sdk::Result<TensorList> replay(const GoldenCase& c, const GoldenOptions& opts, nlohmann::json*) const override {
    return sdk::guard("controlnet golden replay", [&]() { return models::replay_controlnet_case(c, opts); });
  }
  CompareReport compare(const GoldenCase& full, const TensorList& produced, const nlohmann::json&) const override {
    return models::compare_controlnet_case(full, produced);
  }
};

}  // namespace
}  // namespace sdxl::golden

SDXL_REGISTER_GOLDEN_HANDLER(sdxl::golden::ControlNetGoldenHandler)
