// VAE decode benchmark: the full-size SDXL AutoencoderKL (block_out_channels 128/256/512/512,
// 83,653,863 parameters) with random weights, decoded through the `kl` plugin as the host loads
// it, untiled and tiled, on the CPU. Prints wall time, measured peak memory and the plugin's
// estimate_decode_bytes() for each configuration. Not a test: figures only.
//
//   bench_vae_decode [--size PIXELS]... [--tile LATENT_PX] [--overlap LATENT_PX] [--repeat N]
//                    (default tile: half the latent side, overlap a quarter tile)
//                    [--plugin-dir DIR] [--threads N] [--channels-last 0|1] [--upsample subpixel|nearest]
//   --channels-last 1: the kl plugin's channels_last option (NHWC convolutions)
//   --upsample: the kl plugin's upsample option (default subpixel: phase convolutions)
// Default: --size 256 (quick). The SDXL figures: --size 1024 (several GiB and minutes on 2 cores).
//
// Peak memory is the process's resident high-water mark (VmHWM), reset before each decode through
// /proc/self/clear_refs, minus the resident size before it (after malloc_trim): the decode's own
// working set.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <ctime>
#include <malloc.h>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "app/bootstrap.h"
#include "plugins/registry.h"

namespace {

namespace fs = std::filesystem;
using Shapes = std::map<std::string, std::vector<std::int64_t>>;

// diffusers AutoencoderKL tensor names and shapes for SDXL's configuration.
Shapes sdxl_vae_shapes() {
  const std::vector<std::int64_t> ch{128, 256, 512, 512};
  const std::int64_t layers = 2, latent = 4;
  Shapes s;
  auto conv = [&](const std::string& p, std::int64_t cin, std::int64_t cout, std::int64_t k) {
    s[p + ".weight"] = {cout, cin, k, k};
    s[p + ".bias"] = {cout};
  };
  auto norm = [&](const std::string& p, std::int64_t c) {
    s[p + ".weight"] = {c};
    s[p + ".bias"] = {c};
  };
  auto resnet = [&](const std::string& p, std::int64_t cin, std::int64_t cout) {
    norm(p + ".norm1", cin);
    conv(p + ".conv1", cin, cout, 3);
    norm(p + ".norm2", cout);
    conv(p + ".conv2", cout, cout, 3);
    if (cin != cout) conv(p + ".conv_shortcut", cin, cout, 1);
  };
  auto mid = [&](const std::string& p, std::int64_t c) {
    resnet(p + ".resnets.0", c, c);
    resnet(p + ".resnets.1", c, c);
    norm(p + ".attentions.0.group_norm", c);
    for (const char* n : {"to_q", "to_k", "to_v", "to_out.0"}) {
      s[p + ".attentions.0." + n + ".weight"] = {c, c};
      s[p + ".attentions.0." + n + ".bias"] = {c};
    }
  };
  conv("encoder.conv_in", 3, ch[0], 3);
  std::int64_t cin = ch[0];
  for (std::size_t i = 0; i < ch.size(); ++i) {
    const auto p = "encoder.down_blocks." + std::to_string(i);
    for (std::int64_t j = 0; j < layers; ++j) resnet(p + ".resnets." + std::to_string(j), j ? ch[i] : cin, ch[i]);
    if (i + 1 < ch.size()) conv(p + ".downsamplers.0.conv", ch[i], ch[i], 3);
    cin = ch[i];
  }
  mid("encoder.mid_block", ch.back());
  norm("encoder.conv_norm_out", ch.back());
  conv("encoder.conv_out", ch.back(), 2 * latent, 3);
  conv("quant_conv", 2 * latent, 2 * latent, 1);
  conv("post_quant_conv", latent, latent, 1);
  const std::vector<std::int64_t> rev(ch.rbegin(), ch.rend());
  conv("decoder.conv_in", latent, rev[0], 3);
  mid("decoder.mid_block", rev[0]);
  cin = rev[0];
  for (std::size_t i = 0; i < rev.size(); ++i) {
    const auto p = "decoder.up_blocks." + std::to_string(i);
    for (std::int64_t j = 0; j <= layers; ++j) resnet(p + ".resnets." + std::to_string(j), j ? rev[i] : cin, rev[i]);
    if (i + 1 < rev.size()) conv(p + ".upsamplers.0.conv", rev[i], rev[i], 3);
    cin = rev[i];
  }
  norm("decoder.conv_norm_out", rev.back());
  conv("decoder.conv_out", rev.back(), 3, 3);
  return s;
}

// Unit-variance activations: weights N(0, 1/fan_in), norm weights ~1, small biases (random
// values with a sane scale keep denormals and overflow out of the timing).
std::map<std::string, at::Tensor> random_weights(const Shapes& shapes) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(20241126);
  std::map<std::string, at::Tensor> w;
  for (const auto& [name, shape] : shapes) {
    at::Tensor n = at::normal(0.0, 1.0, shape, gen, at::TensorOptions().dtype(at::kFloat));
    const bool weight = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
    if (shape.size() == 1) w[name] = weight ? 1 + 0.05 * n : 0.02 * n;
    else w[name] = n / std::sqrt(static_cast<double>(n.numel() / shape[0]));
  }
  return w;
}

std::int64_t status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(std::string(key).size()));
  }
  return -1;
}
bool reset_peak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  return static_cast<bool>(out);
}

// CPU time of the whole process: with one thread it is the decode's time without the waiting a
// shared machine adds to the wall clock.
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::int64_t> sizes;
  std::int64_t tile = 0, overlap = -1, repeat = 1, threads = 0;
  bool channels_last = false;
  std::string upsample = "subpixel";
  fs::path plugin_dir = sdxl::app::builtin_plugin_dir();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--size") sizes.push_back(std::stoll(v));
    else if (k == "--tile") tile = std::stoll(v);
    else if (k == "--overlap") overlap = std::stoll(v);
    else if (k == "--repeat") repeat = std::stoll(v);
    else if (k == "--threads") threads = std::stoll(v);
    else if (k == "--channels-last") channels_last = v == "1";
    else if (k == "--upsample") upsample = v;
    else if (k == "--plugin-dir") plugin_dir = v;
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  if (sizes.empty()) sizes = {256};
  if (threads > 0) at::set_num_threads(static_cast<int>(threads));

  sdxl::plugins::PluginRegistry registry;
  if (!registry.load_library(plugin_dir / "libsdxl_vae_kl.so")) {
    std::cerr << "cannot load the kl plugin from " << plugin_dir << ": "
              << (registry.rejected().empty() ? "" : registry.rejected().back().reason) << "\n";
    return 1;
  }
  const Shapes shapes = sdxl_vae_shapes();
  auto weights = random_weights(shapes);
  std::int64_t params = 0;
  for (const auto& [n, t] : weights) params += t.numel();
  const std::string config =
      R"({"block_out_channels": [128, 256, 512, 512], "layers_per_block": 2, "latent_channels": 4,
          "norm_num_groups": 32, "scaling_factor": 0.13025, "force_upcast": true})";
  std::printf("SDXL VAE, random weights: %zu tensors, %lld parameters (released file: 248, 83653863)\n",
              weights.size(), static_cast<long long>(params));
  std::printf("CPU threads %d, oneDNN %s, layout %s, upsample %s\n", at::get_num_threads(),
              at::hasMKLDNN() ? "yes" : "no", channels_last ? "channels-last" : "contiguous", upsample.c_str());
  std::printf("%-10s %-22s %10s %10s %12s %14s\n", "image", "mode", "wall ms", "cpu ms", "peak MiB", "estimate MiB");

  for (const auto size : sizes) {
    const std::int64_t lat = size / 8;
    // Default tiling: 2 x 2 tiles of half the latent, overlapping by a quarter tile (1024²: 64/16).
    const std::int64_t t = tile > 0 ? tile : std::max<std::int64_t>(8, lat / 2);
    const std::int64_t ov = overlap >= 0 ? overlap : t / 4;
    for (const bool tiled : {false, true}) {
      sdxl::sdk::Options o;
      o.set("tiling", tiled);
      o.set("tile_size", t);
      o.set("tile_overlap", ov);
      o.set("channels_last", channels_last);
      o.set("upsample", upsample);
      auto vae = registry.create_vae_variant("kl", &o);
      if (!vae.ok()) {
        std::cerr << vae.status().message() << "\n";
        return 1;
      }
      if (auto st = vae.value()->load({"random SDXL VAE", &weights, config}); !st.ok()) {
        std::cerr << st.message() << "\n";
        return 1;
      }
      at::Tensor z = at::randn({1, 4, lat, lat}) * 0.13025 * 5;
      double best_ms = 1e300, best_cpu_ms = 1e300;
      std::int64_t peak_kib = -1;
      for (std::int64_t r = 0; r < repeat; ++r) {
        // Give freed heap pages back first, or a run after a bigger one reuses resident memory
        // and its peak reads too low.
        malloc_trim(0);
        const auto before = status_kib("VmRSS:");
        const bool can_reset = reset_peak();
        const auto t0 = std::chrono::steady_clock::now();
        const double c0 = process_cpu_ms();
        auto image = vae.value()->decode(z, nullptr);
        const double c1 = process_cpu_ms();
        const auto t1 = std::chrono::steady_clock::now();
        best_cpu_ms = std::min(best_cpu_ms, c1 - c0);
        if (!image.ok()) {
          std::cerr << image.status().message() << "\n";
          return 1;
        }
        if (can_reset) peak_kib = std::max(peak_kib, status_kib("VmHWM:") - before);
        best_ms = std::min(best_ms, std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
      const auto est = vae.value()->estimate_decode_bytes({1, 4, lat, lat});
      const std::string mode = tiled ? "tiled " + std::to_string(t) + "/" + std::to_string(ov) : "untiled";
      std::printf("%4lldx%-5lld %-22s %10.0f %10.0f %12.0f %14.0f\n", static_cast<long long>(size),
                  static_cast<long long>(size), mode.c_str(), best_ms, best_cpu_ms, peak_kib >= 0 ? peak_kib / 1024.0 : -1.0,
                  mib(static_cast<double>(est)));
      std::fflush(stdout);
    }
  }
  return 0;
}
