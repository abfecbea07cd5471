// GPU VAE decode benchmark for the minimal GPU build: the `kl` plugin's code linked in directly
// (no plugin loading), full SDXL AutoencoderKL with random weights, decode of 1024² latents on
// CUDA in bf16/fp16, untiled and tiled. Prints ms per decode and the plugin's estimate.
//
//   bench_vae_gpu [--dtype bf16|f16|f32] [--size PX] [--iters N] [--device cuda|cpu]
#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "random_vae.h"

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
  const std::int64_t lat = size / 8;
  for (const bool tiled : {false, true}) {
    sdxl::sdk::Options o;
    o.set("tiling", tiled);
    o.set("tile_size", std::int64_t{64});
    o.set("tile_overlap", std::int64_t{16});
    o.set("force_upcast", std::string("off"));
    auto random = sdxl::bench::random_kl_vae(c10::Device(device), dtype, o);
    if (!random.ok()) return std::fprintf(stderr, "%s\n", random.status().message().c_str()), 1;
    auto& vae = random.value()->vae;
    at::Tensor z = (at::randn({1, 4, lat, lat}) * 0.13025 * 5).to(c10::Device(device));
    for (std::int64_t i = -1; i < iters; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto img = vae->decode(z, nullptr);
      if (!img.ok()) return std::fprintf(stderr, "%s\n", img.status().message().c_str()), 1;
      (void)img.value().sum().to(at::kFloat).cpu();  // waits for the GPU
      const double ms = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1e3;
      std::printf("vae decode %lldx%lld %s %s: %.1f ms%s (estimate %.0f MiB)\n", (long long)size, (long long)size,
                  dtype_name.c_str(), tiled ? "tiled 64/16" : "untiled", ms, i < 0 ? " (warm-up)" : "",
                  vae->estimate_decode_bytes(z.sizes()) / 1048576.0);
    }
  }
  return 0;
}
