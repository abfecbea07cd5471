#include "server/job_infotext.h"

#include <cstdio>

#include "pipeline/infotext.h"

namespace sdxl::server {
namespace {
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}
}  // namespace

std::string job_infotext(const JobSpec& s, std::int64_t seed, const InfotextContext& ctx) {
  const auto [sampler, schedule] = pipeline::a1111_sampler_names(ctx.sampler_feature);
  pipeline::InfoText info;
  info.prompt = s.prompt;
  info.negative = s.negative;
  info.add("Steps", std::to_string(s.steps));
  info.add("Sampler", sampler);
  info.add("Schedule type", schedule);
  info.add("CFG scale", number(s.cfg));
  info.add("Seed", std::to_string(seed));
  info.add("Size", std::to_string(s.width) + "x" + std::to_string(s.height));
  info.add("Model", ctx.model_name == "demo" ? "sdxl-worker demo (random weights)" : ctx.model_name);
  if (!s.init_image.empty()) info.add("Denoising strength", number(s.strength));
  if (s.guidance_rescale > 0) info.add("CFG Rescale phi", number(s.guidance_rescale));
  std::string lora_list;
  for (const auto& l : ctx.loras) {
    char w[64];
    std::snprintf(w, sizeof(w), l.unet == l.text_encoder ? ":%g" : ":%g:%g", l.text_encoder, l.unet);
    lora_list += (lora_list.empty() ? "" : ", ") + l.path.stem().string() + w;
  }
  info.add("LoRAs", lora_list);
  for (const auto& [key, value] : ctx.controlnets) info.add(key, value);
  info.add("RNG", "CPU");
  info.add("Device", ctx.device);
  info.add("Version", std::string("sdxl-worker ") + SDXL_VERSION);
  return info.render();
}

}  // namespace sdxl::server
