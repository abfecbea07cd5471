#include "server/orchestrator_admission.h"

#include "memory/activation_estimate.h"
#include "pipeline/sdxl_model.h"
#include "pipeline/vae_choice.h"

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
      // ControlNet units run one after another before each UNet call; their summed residuals
      // (skip-sized) live through the UNet call. A ControlNet is the UNet's down and mid half, so
      // the UNet's own estimate bounds both: counted twice when any unit runs (not measured).
      if (r.control_units > 0) f.activation_bytes *= 2;
      if (r.model->vae) {
        const auto& info = r.model->vae->info();
        const std::int64_t shape[] = {r.images, info.latent_channels, r.height / info.downscale, r.width / info.downscale};
        f.vae_decode_bytes = r.model->vae->estimate_decode_bytes(shape);
        // Under [memory] vae_decode the decode never uses more than the cap on the device.
        if (const std::uint64_t cap = pipeline::vae_decode_limit(); cap != 0 && cap < f.vae_decode_bytes)
          f.vae_decode_bytes = cap;
        f.vae_decode_tiled_bytes = r.vae_decode_tiled_bytes;
      }
    }
    auto decision = arbiter.admit(f);
    if (!decision.ok()) return decision.status();
    Admission a;
    a.busy = !decision.value().ok;
    a.reason = decision.value().reason;
    a.tiled_vae = decision.value().tiled_vae;
    a.max_batch = decision.value().max_batch;
    a.scratch_bytes = decision.value().scratch_bytes;
    if (decision.value().ok) {
      const memory::JobId id = decision.value().job;
      a.release = [&arbiter, id] { arbiter.release(id); };
    }
    return a;
  };
}

}  // namespace sdxl::server
