#include "cli/bench_vae_choice.h"

#include <algorithm>
#include <vector>

#include "bench/cuda_allocator_peak.h"
#include "bench/device_wait.h"
#include "bench/timing.h"
#include "pipeline/sdxl_model.h"
#include "pipeline/vae_choice.h"

namespace sdxl::cli {

using nlohmann::json;

sdk::Result<json> bench_vae_choice(const plugins::PluginRegistry& registry, c10::Device device, c10::ScalarType dtype,
                                   const std::map<std::string, at::Tensor>& weights, const std::string& config_json,
                                   const at::Tensor& latents, std::int64_t iters) {
  // Only the VAE part of a model: what choose_vae_for_decode reads.
  pipeline::SdxlModel model;
  model.device = device;
  model.dtype = dtype;
  model.vae_weights = weights;
  model.vae_config_json = config_json;
  model.vae_source = "random VAE";
  const plugins::Placement placement{device, dtype};
  auto vae = registry.create_vae_variant(model.vae_feature, nullptr, &placement);
  if (!vae.ok()) return vae.status();
  if (auto st = vae.value()->load({model.vae_source, &model.vae_weights, model.vae_config_json}); !st.ok()) return st;
  model.vae = std::move(vae).value();

  auto choice = pipeline::choose_vae_for_decode(model, registry, latents.sizes());
  if (!choice.ok()) return choice.status();
  const c10::Device where = choice.value().device;
  const at::Tensor z = latents.to(where);
  const bool cuda = where.is_cuda();
  double held_mib = -1, peak_mib = -1;
  std::vector<double> ms;
  for (std::int64_t i = -1; i < std::max<std::int64_t>(1, iters); ++i) {  // i = -1: warm-up
    if (i == 0 && cuda) {
      // After the warm-up (cuDNN's workspaces and autotuning are then in place), as a job that
      // decodes at every step would see it; the weights stay held, so they are in the peak.
      bench::reset_cuda_allocator_peak();
      held_mib = bench::cuda_allocator_current_mib();
    }
    const auto t = bench::Clock::now();
    auto img = choice.value().vae->decode(z, nullptr);
    if (!img.ok()) return img.status();
    bench::wait_for_device(where);
    if (i >= 0) ms.push_back(bench::ms_since(t));
  }
  if (cuda) peak_mib = bench::cuda_allocator_peak_mib();
  json out = {{"choice", choice.value().reason},
              {"device", where.str()},
              {"ms_median", bench::median(ms)},
              {"estimate_mib", choice.value().vae->estimate_decode_bytes(latents.sizes()) / 1048576.0}};
  out["allocator_peak_mib"] = peak_mib >= 0 ? json(peak_mib) : json(nullptr);
  out["allocator_held_before_mib"] = held_mib >= 0 ? json(held_mib) : json(nullptr);
  return out;
}

}  // namespace sdxl::cli
