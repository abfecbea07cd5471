#include "server/job_infotext.h"

#include "pipeline/infotext.h"

namespace sdxl::server {

std::string job_infotext(const JobSpec& s, std::int64_t seed, const InfotextContext& ctx) {
  pipeline::ImageParameters p = pipeline::job_image_parameters(s, seed);
  p.sampler_feature = ctx.sampler_feature;
  p.model_name = ctx.model_name;
  p.demo_model = ctx.model_name == "demo";
  p.loras = pipeline::lora_list_text(ctx.loras);
  p.extra = ctx.extra;
  p.device = ctx.device;
  return pipeline::image_infotext(p).render();
}

}  // namespace sdxl::server
