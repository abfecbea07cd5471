// GPU VAE decode benchmark for the minimal GPU build: the `kl` plugin's code linked in directly
// (no plugin loading), full SDXL AutoencoderKL with random weights, decode of 1024² latents on
// CUDA in bf16/fp16, untiled and tiled. Prints ms per decode and the plugin's estimate.
//
//   bench_vae_gpu [--dtype bf16|f16|f32] [--size PX] [--iters N] [--device cuda|cpu]
#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "models/demo/demo_shapes.h"
#include "sdxl/sdk/sdk.h"

// Defined by SDXL_DEFINE_PLUGIN in plugins/vae/kl/kl_plugin.cpp, linked in.
extern "C" const SdxlPluginEntry* sdxl_plugin_entry(void);

int main(int argc, char** argv) {
  std::string dtype_name = "bf16", device = "cuda";
  std::int64_t size = 1024, iters = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--dtype") dtype_name = v;
    else if (a == "--size") size = std::stoll(v);
    else if (a == "--iters") iters = std::stoll(v);
    else if (a == "--device") device = v;
  }
  const auto dtype = dtype_name == "f16" ? at::kHalf : dtype_name == "f32" ? at::kFloat : at::kBFloat16;
  const nlohmann::json config = {{"block_out_channels", {128, 256, 512, 512}}, {"layers_per_block", 2},
                                 {"latent_channels", 4}, {"norm_num_groups", 32}, {"scaling_factor", 0.13025},
                                 {"force_upcast", false}, {"in_channels", 3}, {"out_channels", 3}};
  std::map<std::string, at::Tensor> weights;
  for (const auto& [name, shape] : sdxl::models::demo::autoencoder_kl_shapes(config)) {
    std::int64_t fan_in = 1;
    for (std::size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
    weights[name] = shape.size() == 1 ? (name.find("norm") != std::string::npos && name.find(".weight") != std::string::npos
                                             ? at::ones(shape) : at::zeros(shape))
                                      : at::randn(shape) / std::sqrt(static_cast<double>(fan_in));
  }
  char err[256] = {0};
  auto* plugin = static_cast<sdxl::sdk::Plugin*>(sdxl_plugin_entry()->create(err, sizeof(err)));
  if (!plugin) return std::fprintf(stderr, "%s\n", err), 1;
  sdxl::sdk::HostServices services;
  services.device = c10::Device(device);
  services.dtype = dtype;
  const std::int64_t lat = size / 8;
  for (const bool tiled : {false, true}) {
    sdxl::sdk::Options o;
    o.set("tiling", tiled);
    o.set("tile_size", std::int64_t{64});
    o.set("tile_overlap", std::int64_t{16});
    o.set("force_upcast", std::string("off"));
    auto vae = plugin->create_vae_variant("kl", o, services);
    if (!vae.ok()) return std::fprintf(stderr, "%s\n", vae.status().message().c_str()), 1;
    if (auto st = vae.value()->load({"random SDXL VAE", &weights, config.dump()}); !st.ok())
      return std::fprintf(stderr, "%s\n", st.message().c_str()), 1;
    at::Tensor z = (at::randn({1, 4, lat, lat}) * 0.13025 * 5).to(services.device);
    for (std::int64_t i = -1; i < iters; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto img = vae.value()->decode(z, nullptr);
      if (!img.ok()) return std::fprintf(stderr, "%s\n", img.status().message().c_str()), 1;
      (void)img.value().sum().to(at::kFloat).cpu();  // waits for the GPU
      const double ms = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1e3;
      std::printf("vae decode %lldx%lld %s %s: %.1f ms%s (estimate %.0f MiB)\n", (long long)size, (long long)size,
                  dtype_name.c_str(), tiled ? "tiled 64/16" : "untiled", ms, i < 0 ? " (warm-up)" : "",
                  vae.value()->estimate_decode_bytes(z.sizes()) / 1048576.0);
    }
  }
  sdxl_plugin_entry()->destroy(plugin);
  return 0;
}
