#include "app/bootstrap.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <boost/dll/runtime_symbol_info.hpp>
#include <cstdlib>

#include "config/plugin_options.h"
#include "image/png.h"
#include "io/device_upload.h"
#include "gpu/kernel_trust.h"
#include "memory/device_memory.h"
#include "memory/arbiter.h"
#include "memory/ledger.h"
#include "models/common/attention_backend.h"
#include "pipeline/sdxl_model.h"
#include "pipeline/unet_graph_cache.h"
#include "pipeline/vae_choice.h"
#include "util/logging.h"

namespace sdxl::app {
namespace fs = std::filesystem;

fs::path builtin_plugin_dir() {
  boost::dll::fs::error_code ec;
  fs::path exe = boost::dll::program_location(ec);
  if (ec) return {};
  return exe.parent_path().parent_path() / SDXL_PLUGIN_SUBDIR;
}

namespace {

sdk::Status add_dir(std::vector<fs::path>& out, const fs::path& dir, const std::string& origin) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return sdk::invalid_argument(origin + ": plugin folder '" + dir.string() + "' does not exist");
  out.push_back(dir);
  return {};
}

}  // namespace

sdk::Result<App> start(const StartupRequest& request) {
  App app;
  const std::string config_file = config::locate_config(request.config_path);
  if (config_file.empty()) {
    app.config = config::default_config();
  } else {
    auto c = config::load_config(config_file);
    if (!c.ok()) return c.status();
    app.config = std::move(c).value();
  }
  // Memory budgets for the ledger (checked here so a bad value is a configuration error).
  auto cpu_budget = memory::parse_budget(app.config.memory_cpu, memory::available_host_memory());
  if (!cpu_budget.ok()) return sdk::invalid_argument(app.config.file + ": [memory] cpu: " + cpu_budget.status().message());
  // A GPU fraction is of the memory free on cuda:0 at start (0 without CUDA: the parser then says
  // a fraction cannot be resolved here).
  const bool gpu_fraction = memory::is_budget_fraction(app.config.memory_gpu);
  const std::uint64_t gpu_free = gpu_fraction ? memory::available_gpu_memory(0) : 0;
  if (gpu_fraction && gpu_free == 0)
    return sdk::invalid_argument(app.config.file + ": [memory] gpu = \"" + app.config.memory_gpu +
                                 "\": a fraction of the free GPU memory needs a CUDA runtime and device, and this "
                                 "machine has none; give a size such as \"20GiB\"");
  auto gpu_budget = memory::parse_budget(app.config.memory_gpu, gpu_free);
  if (!gpu_budget.ok()) return sdk::invalid_argument(app.config.file + ": [memory] gpu: " + gpu_budget.status().message());
  memory::process_ledger().set_budget(c10::Device(c10::kCPU), cpu_budget.value());
  memory::process_ledger().set_budget(c10::Device(c10::kCUDA, 0), gpu_budget.value());
  // The arbiter decides eviction and admission against the same budgets.
  auto mode = memory::parse_arbiter_mode(app.config.memory_mode);
  if (!mode.ok()) return sdk::invalid_argument(app.config.file + ": [memory] mode: " + mode.status().message());
  if (app.config.cpu_threads < 0)
    return sdk::invalid_argument(app.config.file + ": [cpu] threads = " + std::to_string(app.config.cpu_threads) +
                                 ": expected 0 (libtorch's default) or a positive count");
  if (app.config.cpu_threads > 0) at::set_num_threads(static_cast<int>(app.config.cpu_threads));
  if (app.config.png_compression < 0 || app.config.png_compression > 9)
    return sdk::invalid_argument(app.config.file + ": [output] png_compression = " +
                                 std::to_string(app.config.png_compression) + ": expected a zlib level 0-9");
  image::set_png_compression(static_cast<int>(app.config.png_compression));
  // A cap of one VAE decode: a size, not a fraction (of what would it be?).
  const std::string& vae_cap = app.config.memory_vae_decode;
  auto vae_limit = memory::parse_budget(vae_cap, 0);
  if (memory::is_budget_fraction(vae_cap))
    vae_limit = sdk::invalid_argument("'" + vae_cap + "' is a fraction; give a size such as \"2GiB\"");
  if (!vae_limit.ok()) return sdk::invalid_argument(app.config.file + ": [memory] vae_decode: " + vae_limit.status().message());
  pipeline::set_vae_decode_limit(vae_limit.value());
  pipeline::set_cuda_graphs(app.config.gpu_cuda_graphs);
  pipeline::set_unet_channels_last(app.config.gpu_channels_last);
  pipeline::set_unet_fused_qkv(app.config.gpu_fused_qkv);
  at::globalContext().setBenchmarkCuDNN(app.config.gpu_cudnn_benchmark);
  io::set_staged_upload_enabled(app.config.gpu_staged_upload);
  // Process-wide, like libtorch's own switches; an error on a libtorch that cannot honour it.
  if (const sdk::Status attention_set = models::set_attention_backend(app.config.gpu_attention); !attention_set.ok())
    return sdk::invalid_argument(app.config.file + ": [gpu] attention = \"" + app.config.gpu_attention +
                                 "\": " + attention_set.message());
  gpu::set_kernel_log(&util::log_warn);  // e.g. a CUDA kernel that failed its self-check
  auto& arbiter = memory::process_arbiter();
  arbiter.set_mode(mode.value());
  arbiter.set_budget(c10::Device(c10::kCPU), cpu_budget.value());
  arbiter.set_budget(c10::Device(c10::kCUDA, 0), gpu_budget.value());
  if (!request.load_plugins) return app;

  // Search order: --plugin-path, SDXL_PLUGIN_PATH, [plugins] paths, built-in folder.
  std::vector<fs::path> paths;
  for (const auto& p : request.plugin_paths)
    if (auto st = add_dir(paths, p, "--plugin-path"); !st.ok()) return st;
  if (const char* env = std::getenv("SDXL_PLUGIN_PATH"); env && *env) {
    std::string all = env;
    for (std::size_t start = 0; start <= all.size();) {
      auto end = all.find(':', start);
      if (end == std::string::npos) end = all.size();
      if (end > start)
        if (auto st = add_dir(paths, all.substr(start, end - start), "SDXL_PLUGIN_PATH"); !st.ok()) return st;
      start = end + 1;
    }
  }
  for (const auto& dir : config::config_paths(app.config, app.config.plugin_paths))  // relative to the file
    if (auto st = add_dir(paths, dir, app.config.file + " [plugins] paths"); !st.ok()) return st;
  const fs::path builtin = builtin_plugin_dir();
  std::error_code ec;
  if (fs::is_directory(builtin, ec)) paths.push_back(builtin);
  else util::log_warn("built-in plugin folder " + builtin.string() + " not found; only configured paths are searched");

  plugins::RegistrySettings settings;
  settings.search_paths = paths;
  settings.enable = app.config.plugin_enable;
  settings.disable = app.config.plugin_disable;
  app.registry = std::make_unique<plugins::PluginRegistry>();
  app.registry->load(settings);
  if (auto st = config::apply_plugin_options(*app.registry, app.config.plugin_options(), app.config.file); !st.ok())
    return st;
  app.plugin_search_paths = paths;
  return app;
}

}  // namespace sdxl::app
