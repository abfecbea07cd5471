// Microseconds per scheduler call (scale_model_input + step) for every scheduler feature at the
// SDXL 1024² latent of a CFG batch, [2, 4, 128, 128], on the CPU. The model output is a fixed
// random tensor, so only the scheduler's own arithmetic is timed. Prints figures; not a test.
//   usage: bench_scheduler_step [steps=25] [threads=0 (libtorch default)]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "app/bootstrap.h"
#include "noise/cpu_torch_noise.h"
#include "plugins/registry.h"

using namespace sdxl;

int main(int argc, char** argv) {
  const std::int64_t steps = argc > 1 ? std::atoll(argv[1]) : 25;
  if (argc > 2 && std::atoi(argv[2]) > 0) at::set_num_threads(std::atoi(argv[2]));
  plugins::PluginRegistry registry;
  plugins::RegistrySettings settings;
  settings.search_paths = {app::builtin_plugin_dir()};
  registry.load(settings);
  const auto features = registry.features(sdk::FeatureKind::scheduler);
  if (features.empty()) {
    std::fprintf(stderr, "no scheduler plugins found in %s\n", app::builtin_plugin_dir().string().c_str());
    return 1;
  }
  noise::CpuTorchNoise gen(0);
  const std::vector<std::int64_t> shape{2, 4, 128, 128};
  const auto start = gen.randn(shape, at::kFloat, at::kCPU);
  const auto model_out = gen.randn(shape, at::kFloat, at::kCPU) * 0.5;
  std::printf("latent [2,4,128,128], %lld steps, %d threads\n", static_cast<long long>(steps), at::get_num_threads());
  std::printf("%-24s %6s %12s\n", "feature", "calls", "us/call");
  for (const auto* f : features) {
    auto created = registry.create_scheduler(f->info.name);
    if (!created.ok()) {
      std::printf("%-24s  error: %s\n", f->info.name.c_str(), created.status().message().c_str());
      continue;
    }
    auto& s = *created.value();
    const std::int64_t n = f->info.name == "lcm" || f->info.name == "tcd" ? std::min<std::int64_t>(steps, 8) : steps;
    if (!s.set_timesteps(n).ok()) continue;
    noise::CpuTorchNoise noise(1);
    at::Tensor x = start * static_cast<float>(s.init_noise_sigma());
    const auto calls = s.timesteps().size(0);
    double total_us = 0;
    for (std::int64_t i = 0; i < calls; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto x_in = s.scale_model_input(x, i);
      auto r = s.step(model_out, i, x, noise);
      const auto t1 = std::chrono::steady_clock::now();
      if (!x_in.ok() || !r.ok()) break;
      x = r.value().prev_sample;
      total_us += std::chrono::duration<double, std::micro>(t1 - t0).count();
    }
    std::printf("%-24s %6lld %12.1f\n", f->info.name.c_str(), static_cast<long long>(calls), total_us / calls);
  }
  return 0;
}
