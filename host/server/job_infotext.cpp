#include "server/job_infotext.h"

#include "pipeline/infotext.h"

namespace sdxl::server {

std::string job_infotext(const JobSpec& s, std::int64_t seed, const InfotextContext& ctx) {
  pipeline::ImageParameters p;
  p.prompt = s.prompt;
  p.negative = s.negative;
  p.steps = s.steps;
  p.seed = seed;
  p.width = s.width;
  p.height = s.height;
  p.sampler_feature = ctx.sampler_feature;
  p.cfg = s.cfg;
  p.model_name = ctx.model_name;
  p.demo_model = ctx.model_name == "demo";
  if (!s.init_image.empty()) p.denoising_strength = s.strength;
  p.guidance_rescale = s.guidance_rescale;
  p.loras = pipeline::lora_list_text(ctx.loras);
  p.extra = ctx.controlnets;
  p.device = ctx.device;
  return pipeline::image_infotext(p).render();
}

}  // namespace sdxl::server
