// Golden handler for the UNet case (cases/unet.safetensors): PREFIX.{sample, timestep,
// encoder_hidden_states, text_embeds, time_ids} -> PREFIX.eps (+ PREFIX.debug.* where listed).
// The work is done in models/unet/unet_golden.h, which the unit tests call directly.
#include "golden/golden_case.h"
#include "models/unet/unet_golden.h"

namespace sdxl::golden {
namespace {

class UNetGoldenHandler : public GoldenHandler {
 public:
  std::string name() const override { return "unet"; }
  bool accepts(const GoldenCase& c) const override {
    if (!c.tensors) return false;
    if (c.manifest.is_object() && c.manifest.value("case", std::string()) == "unet") return true;
    return c.file.stem() == "unet" && !models::unet_case_prefixes(c.manifest).empty();
  }
  // The manifest's tensor table gives the sub-case prefixes and which intermediates to emit.
  std::set<std::string> allowed_manifest_keys(const GoldenCase&) const override {
    return {"case", "params", "tensors"};
  }
  std::set<std::string> allowed_tensors(const GoldenCase& c) const override {
    return models::unet_case_inputs(c.manifest);
  }
  bool runs_in_dtype() const override { return true; }
  sdk::Result<TensorList> replay(const GoldenCase& c, const GoldenOptions& opts, nlohmann::json*) const override {
    return sdk::guard("unet golden replay", [&]() { return models::replay_unet_case(c, opts); });
  }
  CompareReport compare(const GoldenCase& full, const TensorList& produced, const nlohmann::json&) const override {
    return models::compare_unet_case(full, produced);
  }
};

}  // namespace
}  // namespace sdxl::golden

SDXL_REGISTER_GOLDEN_HANDLER(sdxl::golden::UNetGoldenHandler)
