#include "server/orchestrator_admission.h"

#include "memory/activation_estimate.h"
#include "pipeline/sdxl_model.h"

namespace sdxl::server {

std::function<sdk::Result<Admission>(const AdmissionRequest&)> arbiter_admission(memory::MemoryArbiter& arbiter) {
  return [&arbiter](const AdmissionRequest& r) -> sdk::Result<Admission> {
    memory::JobFootprint f;
    f.label = r.label;
    f.batch = r.images;
    f.components = r.components;
    if (r.model) {
      f.device = r.model->device;
      if (r.model->unet)
        f.activation_bytes = memory::estimate_unet_activation_bytes(r.model->unet->config(), r.images, r.height, r.width,
                                                                    r.model->dtype, r.cfg);
      if (r.model->vae) {
        const auto& info = r.model->vae->info();
        const std::int64_t shape[] = {r.images, info.latent_channels, r.height / info.downscale, r.width / info.downscale};
        f.vae_decode_bytes = r.model->vae->estimate_decode_bytes(shape);
      }
    }
    auto decision = arbiter.admit(f);
    if (!decision.ok()) return decision.status();
    Admission a;
    a.busy = !decision.value().ok;
    a.reason = decision.value().reason;
    if (decision.value().ok) {
      const memory::JobId id = decision.value().job;
      a.release = [&arbiter, id] { arbiter.release(id); };
    }
    return a;
  };
}

}  // namespace sdxl::server
