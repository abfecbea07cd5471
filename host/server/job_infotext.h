#pragma once
// A1111's "parameters" text for one image of a server job (the same fields `sdxl generate`
// writes, so PNG Info, Civitai and the CLI read server images alike).

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/lora_stack.h"
#include "server/job.h"

namespace sdxl::server {

struct InfotextContext {
  std::string sampler_feature;  ///< the scheduler that ran
  std::string model_name;       ///< "demo" → the demo model's label
  std::string device;           ///< "cpu float32"
  std::vector<pipeline::LoraRequest> loras;
  /// After the model's fields: "VAE" (a VAE of its own), pipeline::control_infotext's "ControlNet N".
  std::vector<std::pair<std::string, std::string>> extra;
};

std::string job_infotext(const JobSpec& spec, std::int64_t seed, const InfotextContext& ctx);

}  // namespace sdxl::server
