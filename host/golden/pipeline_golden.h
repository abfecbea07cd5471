#pragma once
// Golden handler for the end-to-end cases of ../shared/golden/models/cases (txt2img, img2img,
// controlnet_txt2img):
// the whole pipeline — tokenisation, text encoding, the model's own scheduler config, CFG, the
// denoising loop, VAE encode/decode — runs through the project's code. Only these inputs are
// read: params prompts, negative, height, width, steps, guidance, strength, cn_scale and the tensors
// noise, vae_sample_noise, init_image(_u8), control_image_u8 (or controlnet_cond). The ControlNet
// is --controlnet (default: controlnet-tiny/ beside the case folder). Produced: prompt.*, negative.*, the CFG conditioning,
// latents_init, every step{i}.* tensor, latents_final, vae_input, image, image01, image_u8.

#include "golden/golden_case.h"

namespace sdxl::golden {

class PipelineGoldenHandler : public GoldenHandler {
 public:
  std::string name() const override { return "pipeline"; }
  bool accepts(const GoldenCase& c) const override;
  std::set<std::string> allowed_manifest_keys(const GoldenCase& c) const override;
  std::set<std::string> allowed_tensors(const GoldenCase& c) const override;
  bool runs_in_dtype() const override { return true; }
  /// The prompt embeddings, the final latents and image (+ step 0's ControlNet residuals): what
  /// the replay produces of every case; the cases record more (img2img's encode statistics).
  std::set<std::string> required_outputs(const GoldenCase& full) const override;
  /// Each step's rounding changes the next step's input; on the tiny random model the bfloat16
  /// error grows from 4 % (step 0) to 30 % (step 3 CFG eps) of the float32 values: bound ×4.
  double reduced_precision_slack() const override { return 4.0; }
  sdk::Result<TensorList> replay(const GoldenCase& c, const GoldenOptions& opts, nlohmann::json* json_out) const override;
  CompareReport compare(const GoldenCase& full, const TensorList& produced, const nlohmann::json& json_out) const override;
};

}  // namespace sdxl::golden
