#pragma once
// The `kl` VAE plugin's code (linked into the GPU benchmarks, no plugin loading) with the full
// SDXL AutoencoderKL and random weights.
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>

#include "bench/random_sdxl.h"
#include "gpu/host_device_ops.h"
#include "models/demo/demo_shapes.h"
#include "sdxl/sdk/sdk.h"

// Defined by SDXL_DEFINE_PLUGIN in plugins/vae/kl/kl_plugin.cpp, linked in.
extern "C" const SdxlPluginEntry* sdxl_plugin_entry(void);

namespace sdxl::bench {

struct RandomVae {
  std::map<std::string, at::Tensor> weights;  // float32 on the CPU; the plugin converts on load
  sdk::Plugin* plugin = nullptr;
  std::unique_ptr<sdk::VaeVariant> vae;
  ~RandomVae() {
    vae.reset();
    if (plugin) sdxl_plugin_entry()->destroy(plugin);
  }
};

/// `options`: the kl feature's options (tiling, tile_size, force_upcast…).
inline sdk::Result<std::unique_ptr<RandomVae>> random_kl_vae(c10::Device device, c10::ScalarType dtype,
                                                            const sdk::Options& options) {
  auto r = std::make_unique<RandomVae>();
  const nlohmann::json config = sdxl_vae_config();
  r->weights = random_weights(models::demo::autoencoder_kl_shapes(config), at::TensorOptions());
  char err[256] = {0};
  r->plugin = static_cast<sdk::Plugin*>(sdxl_plugin_entry()->create(err, sizeof(err)));
  if (!r->plugin) return sdk::internal_error(err);
  sdk::HostServices services;
  services.device = device;
  services.dtype = dtype;
  services.ops = &gpu::host_device_ops();  // as the host lends it: channels-last GroupNorm kernels
  auto vae = r->plugin->create_vae_variant("kl", options, services);
  if (!vae.ok()) return vae.status();
  r->vae = std::move(vae).value();
  if (auto st = r->vae->load({"random SDXL VAE", &r->weights, config.dump()}); !st.ok()) return st;
  return r;
}

}  // namespace sdxl::bench
