#include "models/common/attention_backend.h"

#include <ATen/Context.h>
#include <torch/csrc/api/include/torch/version.h>

#include <array>
#include <utility>

namespace sdxl::models {
namespace {

#define SDXL_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

constexpr std::array<std::pair<AttentionBackend, const char*>, 5> kNames{{
    {AttentionBackend::automatic, "auto"},
    {AttentionBackend::flash, "flash"},
    {AttentionBackend::cudnn, "cudnn"},
    {AttentionBackend::efficient, "efficient"},
    {AttentionBackend::math, "math"},
}};

}  // namespace

sdk::Result<AttentionBackend> parse_attention_backend(std::string_view name) {
  for (const auto& [backend, text] : kNames)
    if (name == text) return backend;
  return sdk::invalid_argument("attention backend '" + std::string(name) +
                               "': expected auto, flash, cudnn, efficient or math");
}

const char* attention_backend_name(AttentionBackend backend) {
  for (const auto& [b, text] : kNames)
    if (b == backend) return text;
  return "?";
}

std::string attention_backend_unsupported(AttentionBackend backend) {
  if (backend == AttentionBackend::automatic) return {};
#if !SDXL_TORCH_AT_LEAST(2, 0)
  return std::string("attention backend '") + attention_backend_name(backend) +
         "' needs libtorch 2.0 or newer (this build has " + TORCH_VERSION +
         ", whose attention is the host's own chunked formula)";
#elif !SDXL_TORCH_AT_LEAST(2, 4)
  if (backend == AttentionBackend::cudnn)
    return std::string("attention backend 'cudnn' needs libtorch 2.4 or newer (this build has ") + TORCH_VERSION + ")";
  return {};
#else
  return {};
#endif
}

sdk::Status set_attention_backend(AttentionBackend backend) {
  if (std::string why = attention_backend_unsupported(backend); !why.empty()) return sdk::unsupported(why);
#if SDXL_TORCH_AT_LEAST(2, 0)
  const bool all = backend == AttentionBackend::automatic;
  auto& ctx = at::globalContext();
  ctx.setSDPUseFlash(all || backend == AttentionBackend::flash);
  ctx.setSDPUseMemEfficient(all || backend == AttentionBackend::efficient);
  ctx.setSDPUseMath(true);  // the fallback for shapes the chosen kernel refuses
#if SDXL_TORCH_AT_LEAST(2, 4)
  ctx.setSDPUseCuDNN(all || backend == AttentionBackend::cudnn);
#endif
#endif
  return sdk::Status{};
}

sdk::Status set_attention_backend(std::string_view name) {
  auto backend = parse_attention_backend(name);
  return backend.ok() ? set_attention_backend(backend.value()) : backend.status();
}

AttentionBackend current_attention_backend() {
#if SDXL_TORCH_AT_LEAST(2, 0)
  const auto& ctx = at::globalContext();
  const bool flash = ctx.userEnabledFlashSDP(), efficient = ctx.userEnabledMemEfficientSDP();
#if SDXL_TORCH_AT_LEAST(2, 4)
  const bool cudnn = ctx.userEnabledCuDNNSDP();
#else
  const bool cudnn = false;
#endif
  const int on = int(flash) + int(efficient) + int(cudnn);
  if (on == 0) return AttentionBackend::math;
  if (on == 1) return flash ? AttentionBackend::flash : efficient ? AttentionBackend::efficient : AttentionBackend::cudnn;
#endif
  return AttentionBackend::automatic;
}

}  // namespace sdxl::models
