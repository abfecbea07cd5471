// Pipeline benchmark: seconds per image and the share of text encoding, denoising (UNet calls
// vs the pipeline's own per-step overhead) and VAE, on the built-in demo model. Prints figures;
// not a test.
//
//   bench_pipeline_cpu [--size PX (256)] [--steps N (12)] [--images N (3)] [--sampler NAME]
//                      [--model PATH [--model-config DIR]]   (a real or full-size random model)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>

#include <cstdio>
#include <filesystem>
#include <string>

#include "models/demo/demo_model.h"
#include "noise/cpu_torch_noise.h"
#include "pipeline/generate.h"

using namespace sdxl;

int main(int argc, char** argv) {
  std::int64_t size = 256, steps = 12, images = 3;
  std::string sampler, model_path, model_config;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--size") size = std::stoll(v);
    else if (a == "--steps") steps = std::stoll(v);
    else if (a == "--images") images = std::stoll(v);
    else if (a == "--sampler") sampler = v;
    else if (a == "--model") model_path = v;
    else if (a == "--model-config") model_config = v;
  }
  plugins::PluginRegistry reg;
  plugins::RegistrySettings settings;
  settings.search_paths = {std::filesystem::path(argv[0]).parent_path().parent_path() / "lib/sdxl/plugins"};
  reg.load(settings);
  pipeline::ModelSpec spec;
  if (model_path.empty()) {
    auto dir = models::demo::ensure_demo_model(models::demo::default_cache_dir());
    if (!dir.ok()) return std::fprintf(stderr, "%s\n", dir.status().message().c_str()), 1;
    spec.path = dir.value();
  } else {
    spec.path = model_path;
    spec.model_config = model_config;
  }
  auto model = pipeline::SdxlModel::load(spec, reg);
  if (!model.ok()) return std::fprintf(stderr, "%s\n", model.status().message().c_str()), 1;
  std::printf("model %s, %lldx%lld, %lld steps, CFG on, %d threads\n", model.value()->name.c_str(), (long long)size,
              (long long)size, (long long)steps, at::get_num_threads());
  for (std::int64_t i = 0; i < images; ++i) {
    pipeline::GenerateRequest req;
    req.prompts.prompts = {"a lighthouse on a cliff at sunset, (oil painting:1.2)"};
    req.width = req.height = size;
    req.steps = steps;
    req.sampler = sampler;
    noise::CpuTorchNoise noise(static_cast<std::uint64_t>(i));
    pipeline::JobHooks hooks;
    hooks.noise = &noise;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = pipeline::generate(*model.value(), reg, req, hooks);
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r.ok()) return std::fprintf(stderr, "%s\n", r.status().message().c_str()), 1;
    const auto& s = r.value().seconds;
    const double overhead = s.denoise - s.unet;
    std::printf("image %lld: %.2f s  text %.0f%%  denoise %.0f%% (UNet %.3f s/step, pipeline overhead %.2f ms/step)  VAE %.0f%%\n",
                (long long)i, total, 100 * s.text / total, 100 * s.denoise / total, s.unet / steps,
                1e3 * overhead / steps, 100 * s.vae / total);
  }
  return 0;
}
