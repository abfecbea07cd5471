// Where the GPU time of one call goes: runs the call once under the Kineto profiler (CUDA
// activity) and writes `<prefix>.kernels.tsv`, every kernel name with its count and total device
// time, largest first, and prints a summary by kind (convolution, GEMM, attention, norms,
// layout copies, other element-wise work) plus how much of the call's span the GPU was busy.
// That split decides which lever is worth building next (fused norms, channels-last, graphs), so
// the next GPU session can aim instead of guess. `<prefix>.trace.json` is the Chrome trace.
//
// Built only where libtorch has the torch 2.x Kineto API (SDXL_HAVE_KINETO_PROFILER, a configure
// check in bench/gpu/CMakeLists.txt); elsewhere profile_kernels() says so and returns false.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#if SDXL_HAVE_KINETO_PROFILER
#include <torch/csrc/autograd/profiler_kineto.h>
#endif

namespace sdxl::bench {

/// The kind of work a CUDA kernel does, from its name (cuDNN, cuBLAS, CUTLASS and ATen naming).
/// Convolution is tested before GEMM: cuDNN's implicit-GEMM convolutions carry both words.
/// "nvjet": cuBLAS's GEMM kernels on Hopper with CUDA 13 (nvjet_sm90_hsh_...), which carry no
/// "gemm" in their names (the 2026-11-27 profiles counted them as element-wise).
inline std::string kernel_kind(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (has("flash") || has("fmha") || has("attention") || has("softmax")) return "attention";
  if (has("conv") || has("fprop") || has("implicit") || has("winograd") || has("dgrad")) return "convolution";
  if (has("gemm") || has("cutlass") || has("cublas") || has("matmul") || has("sm90_xmma") ||
      has("nvjet"))
    return "gemm";
  if (has("norm") || has("moments") || has("welford") || has("fusedparams")) return "norm";
  if (has("nchwtonhwc") || has("nhwctonchw") || has("transpose") || has("copy") || has("cat_") ||
      has("memcpy") || has("memset"))
    return "layout/copy";
  return "element-wise/other";
}

inline bool profile_kernels(const std::function<void()>& call, const std::string& prefix) {
#if SDXL_HAVE_KINETO_PROFILER
  namespace prof = torch::autograd::profiler;
  using torch::profiler::impl::ActivityType;
  using torch::profiler::impl::ProfilerConfig;
  using torch::profiler::impl::ProfilerState;
  try {
    const ProfilerConfig config(ProfilerState::KINETO);
    const std::set<ActivityType> activities = {ActivityType::CPU, ActivityType::CUDA};
    prof::prepareProfiler(config, activities);
    prof::enableProfiler(config, activities);
    call();
    auto result = prof::disableProfiler();
    std::map<std::string, std::pair<std::int64_t, double>> per_kernel;  // name -> count, ms
    std::map<std::string, double> per_kind;
    double busy_ms = 0;
    std::uint64_t first = UINT64_MAX, last = 0;
    for (const auto& e : result->events()) {
      if (e.deviceType() != c10::DeviceType::CUDA || e.durationNs() == 0) continue;
      const double ms = static_cast<double>(e.durationNs()) / 1e6;
      auto& k = per_kernel[e.name()];
      k.first += 1;
      k.second += ms;
      per_kind[kernel_kind(e.name())] += ms;
      busy_ms += ms;
      first = std::min<std::uint64_t>(first, e.startNs());
      last = std::max<std::uint64_t>(last, e.endNs());
    }
    if (per_kernel.empty()) {
      std::printf("profile %s: no CUDA kernels recorded (CUPTI unavailable?)\n", prefix.c_str());
      return false;
    }
    std::vector<std::pair<std::string, std::pair<std::int64_t, double>>> rows(per_kernel.begin(), per_kernel.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.second > b.second.second; });
    if (FILE* f = std::fopen((prefix + ".kernels.tsv").c_str(), "w")) {
      std::fprintf(f, "device_ms\tshare\tcalls\tkind\tkernel\n");
      for (const auto& [name, v] : rows)
        std::fprintf(f, "%.3f\t%.3f\t%lld\t%s\t%s\n", v.second, v.second / busy_ms, static_cast<long long>(v.first),
                     kernel_kind(name).c_str(), name.c_str());
      std::fclose(f);
    }
    result->save(prefix + ".trace.json");
    const double span_ms = last > first ? static_cast<double>(last - first) / 1e6 : 0;
    std::printf("profile %s: %zu distinct kernels, GPU busy %.2f ms of a %.2f ms span (%.0f %%)\n", prefix.c_str(),
                rows.size(), busy_ms, span_ms, span_ms > 0 ? 100 * busy_ms / span_ms : 0.0);
    for (const auto& [kind, ms] : per_kind)
      std::printf("profile %s: kind %-20s %8.2f ms device (%4.1f %%)\n", prefix.c_str(), kind.c_str(), ms,
                  100 * ms / busy_ms);
    return true;
  } catch (const std::exception& e) {
    std::printf("profile %s: the profiler failed: %s\n", prefix.c_str(), e.what());
    return false;
  }
#else
  (void)call;
  std::printf("profile %s: this libtorch has no Kineto profiler API (SDXL_HAVE_KINETO_PROFILER off)\n", prefix.c_str());
  return false;
#endif
}

}  // namespace sdxl::bench
