// GPU VAE decode benchmark for the minimal GPU build: the `kl` plugin's code linked in directly
// (no plugin loading), full SDXL AutoencoderKL with random weights, decode of 1024² latents on
// CUDA in bf16/fp16, untiled and tiled at each --tiles size (latent pixels; 0 = untiled; HxW =
// tiles H high and W wide, e.g. 72x128: two full-width strips of a 1024² picture). Prints
// ms per decode, the plugin's memory estimate, and the CUDA allocator's peak for that setting
// (weights included; -1 where the torch headers lack the allocator's statistics) — issue 8's
// "≤ 60 ms, ≤ 2 GiB" is read from these lines.
//
//   bench_vae_gpu [--dtype bf16|f16|f32] [--size PX] [--iters N] [--device cuda|cpu]
//                 [--tiles 0,64,96,72x128] [--overlap 16] [--channels-last 0|1] [--cudnn-benchmark 0|1]
//                 [--upsample subpixel|nearest] [--profile PREFIX]
// --profile: one more decode per tile setting under the Kineto profiler, written to
// PREFIX_tile<N>.kernels.tsv and .trace.json (bench/gpu/kernel_profile.h).
#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "bench/cuda_allocator_peak.h"
#include "kernel_profile.h"
#include "random_vae.h"

int main(int argc, char** argv) {
  std::string dtype_name = "bf16", device = "cuda", tiles = "0,64";
  std::int64_t size = 1024, iters = 5, overlap = 16;
  bool channels_last = false;
  std::string upsample = "subpixel", profile;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--dtype") dtype_name = v;
    else if (a == "--size") size = std::stoll(v);
    else if (a == "--iters") iters = std::stoll(v);
    else if (a == "--device") device = v;
    else if (a == "--tiles") tiles = v;
    else if (a == "--overlap") overlap = std::stoll(v);
    else if (a == "--channels-last") channels_last = v == "1";
    else if (a == "--upsample") upsample = v;
    else if (a == "--profile") profile = v;
    else if (a == "--cudnn-benchmark") at::globalContext().setBenchmarkCuDNN(v == "1");  // [gpu] cudnn_benchmark
    else return std::fprintf(stderr, "unknown option %s\n", a.c_str()), 2;
  }
  const auto dtype = dtype_name == "f16" ? at::kHalf : dtype_name == "f32" ? at::kFloat : at::kBFloat16;
  const std::int64_t lat = size / 8;
  std::stringstream list(tiles);
  for (std::string item; std::getline(list, item, ',');) {
    // "N": square tiles of N latent pixels (0: untiled); "HxW": tiles H high and W wide (strips).
    const auto cross = item.find('x');
    const std::int64_t tile = std::stoll(item.substr(0, cross));
    const std::int64_t tile_w = cross == std::string::npos ? tile : std::stoll(item.substr(cross + 1));
    sdxl::sdk::Options o;
    o.set("tiling", tile > 0);
    o.set("tile_size", std::max<std::int64_t>(tile, 8));
    if (tile_w != tile) {
      o.set("tile_height", std::max<std::int64_t>(tile, 8));
      o.set("tile_width", std::max<std::int64_t>(tile_w, 8));
    }
    o.set("tile_overlap", overlap);
    o.set("force_upcast", std::string("off"));
    o.set("channels_last", channels_last);
    o.set("upsample", upsample);
    sdxl::bench::reset_cuda_allocator_peak();
    auto random = sdxl::bench::random_kl_vae(c10::Device(device), dtype, o);
    if (!random.ok()) return std::fprintf(stderr, "%s\n", random.status().message().c_str()), 1;
    auto& vae = random.value()->vae;
    at::Tensor z = (at::randn({1, 4, lat, lat}) * 0.13025 * 5).to(c10::Device(device));
    char mode[96];
    if (tile > 0 && tile_w != tile)
      std::snprintf(mode, sizeof mode, "tiled %lldx%lld/%lld", (long long)tile, (long long)tile_w, (long long)overlap);
    else if (tile > 0) std::snprintf(mode, sizeof mode, "tiled %lld/%lld", (long long)tile, (long long)overlap);
    else std::snprintf(mode, sizeof mode, "untiled");
    std::strncat(mode, upsample == "nearest" ? " nearest-upsample" : "", sizeof mode - std::strlen(mode) - 1);
    if (channels_last) std::strncat(mode, " channels-last", sizeof mode - std::strlen(mode) - 1);
    if (at::globalContext().benchmarkCuDNN()) std::strncat(mode, " cudnn-benchmark", sizeof mode - std::strlen(mode) - 1);
    for (std::int64_t i = -1; i < iters; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto img = vae->decode(z, nullptr);
      if (!img.ok()) return std::fprintf(stderr, "%s\n", img.status().message().c_str()), 1;
      (void)img.value().sum().to(at::kFloat).cpu();  // waits for the GPU
      const double ms = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1e3;
      std::printf("vae decode %lldx%lld %s %s: %.1f ms%s (estimate %.0f MiB, allocator peak %.0f MiB)\n",
                  (long long)size, (long long)size, dtype_name.c_str(), mode, ms, i < 0 ? " (warm-up)" : "",
                  vae->estimate_decode_bytes(z.sizes()) / 1048576.0, sdxl::bench::cuda_allocator_peak_mib());
    }
    if (!profile.empty())
      sdxl::bench::profile_kernels([&]() { (void)vae->decode(z, nullptr).value().sum().to(at::kFloat).cpu(); },
                                   profile + "_tile" + item);
  }
  return 0;
}
