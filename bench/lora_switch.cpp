// bench_lora_switch: what switching a real-size SDXL LoRA costs on the CPU.
// Builds the full-size SDXL module set from sdxl_full_keymap.json (random float16 base weights for
// every LoRA-targetable module), writes a rank-32 kohya LoRA covering all 1059 modules (random
// values), then times: cold load (open + detect + parse), cached load, merge (float32 maths,
// stored back as float16), unmerge (restores the originals bit-identically; checked).
//
// Then times a runtime-mode switch (lora/runtime_engine.h): attach + detach of the same LoRA.
//
// usage: bench_lora_switch [--keymap FILE] [--rank R] [--max-modules N] [--slices S] [--plugin-path DIR]
//                          [--threads T] [--plugin-maths 1]
//   --slices S: time merge/unmerge as S consecutive switches of S LoRA files that split the same
//   groups (same total work, 1/S of the backup memory; for machines that cannot hold two copies).
//   --keymap defaults to $SDXL_GOLDEN_DIR/lora/sdxl_full_keymap.json, else
//   <exe>/../../../shared/golden/lora/sdxl_full_keymap.json.
//   --threads T: ATen intra-op threads (the merge spreads parameters over them); default: ATen's.
//   --plugin-maths 1: also time every patch through the plugin's own apply(), alone and as a whole
//   merge (the pre-extension maths: at::matmul on the reference BLAS; minutes on this machine).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "app/bootstrap.h"
#include "io/safetensors.h"
#include "lora/merge_engine.h"
#include "lora/model_weights.h"
#include "lora/low_rank_product.h"
#include "lora/registry_formats.h"
#include "lora/runtime_engine.h"
#include "models/common/cpu_matmul.h"
#include "plugins/registry.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
// Process CPU time (all threads): on a shared machine wall time also counts other people's work.
static double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

int main(int argc, char** argv) {
  fs::path keymap;
  std::int64_t rank = 32;
  std::size_t max_modules = 100000;
  std::size_t slices = 1;
  std::vector<std::string> plugin_paths;
  bool plugin_maths = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--keymap") keymap = argv[i + 1];
    else if (a == "--rank") rank = std::stoll(argv[i + 1]);
    else if (a == "--max-modules") max_modules = std::stoull(argv[i + 1]);
    else if (a == "--plugin-path") plugin_paths.push_back(argv[i + 1]);
    else if (a == "--slices") slices = std::max<std::size_t>(1, std::stoull(argv[i + 1]));
    else if (a == "--threads") at::set_num_threads(std::max(1, std::stoi(argv[i + 1])));
    else if (a == "--plugin-maths") plugin_maths = std::string(argv[i + 1]) != "0";
    else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  if (keymap.empty()) {
    const char* env = std::getenv("SDXL_GOLDEN_DIR");
    keymap = env ? fs::path(env) / "lora" / "sdxl_full_keymap.json"
                 : fs::absolute(argv[0]).parent_path() / "../../../shared/golden/lora/sdxl_full_keymap.json";
  }
  std::ifstream in(keymap);
  if (!in) {
    std::cerr << "cannot read " << keymap << " (use --keymap)\n";
    return 2;
  }
  const auto map = nlohmann::json::parse(in);

  // Plugins: the built-in folder beside the executable, plus --plugin-path.
  sdxl::plugins::PluginRegistry registry;
  sdxl::plugins::RegistrySettings settings;
  for (const auto& p : plugin_paths) settings.search_paths.emplace_back(p);
  settings.search_paths.push_back(fs::absolute(argv[0]).parent_path() / ".." / SDXL_PLUGIN_SUBDIR);
  registry.load(settings);
  auto formats = sdxl::lora::formats_from_registry(registry);
  if (!formats.ok()) {
    std::cerr << formats.status().message() << "\n";
    return 1;
  }

  at::manual_seed(0);
  auto t0 = Clock::now();
  sdxl::lora::WeightMap weights;
  std::vector<std::pair<std::string, at::Tensor>> lora_tensors;
  std::uint64_t base_bytes = 0;
  for (const auto& e : map["entries"]) {
    if (weights.size() >= max_modules) break;
    const auto shape = e["shape"].get<std::vector<std::int64_t>>();
    const std::string param = e["component"].get<std::string>() + "." + e["diffusers"].get<std::string>();
    at::Tensor w = (at::randn(shape) * 0.02).to(at::kHalf);
    base_bytes += w.numel() * 2;
    weights[param] = w;
    const std::string group = e["kohya"].get<std::string>();
    std::vector<std::int64_t> down_shape = shape, up_shape = {shape[0], rank};
    down_shape[0] = rank;
    if (shape.size() == 4) up_shape = {shape[0], rank, 1, 1};
    lora_tensors.emplace_back(group + ".lora_down.weight", (at::randn(down_shape) * 0.05).to(at::kHalf));
    lora_tensors.emplace_back(group + ".lora_up.weight", (at::randn(up_shape) * 0.01).to(at::kHalf));
    lora_tensors.emplace_back(group + ".alpha", at::scalar_tensor(static_cast<double>(rank) / 2).to(at::kHalf));
  }
  const fs::path file = fs::temp_directory_path() / "bench_lora_switch_rank.safetensors";
  if (auto st = sdxl::io::write_safetensors(file, lora_tensors); !st.ok()) {
    std::cerr << st.message() << "\n";
    return 1;
  }
  // The same groups split over `slices` files (3 tensors per group, kept together).
  std::vector<fs::path> slice_files;
  if (slices > 1) {
    const std::size_t groups = lora_tensors.size() / 3, per = (groups + slices - 1) / slices;
    for (std::size_t s = 0; s * per < groups; ++s) {
      std::vector<std::pair<std::string, at::Tensor>> part(lora_tensors.begin() + 3 * s * per,
                                                            lora_tensors.begin() + 3 * std::min(groups, (s + 1) * per));
      slice_files.push_back(fs::temp_directory_path() / ("bench_lora_switch_slice" + std::to_string(s) + ".safetensors"));
      if (auto st = sdxl::io::write_safetensors(slice_files.back(), part); !st.ok()) {
        std::cerr << st.message() << "\n";
        return 1;
      }
    }
  }
  lora_tensors.clear();
  const double setup_s = seconds_since(t0);
  std::cout << "model: " << weights.size() << " modules, " << base_bytes / 1e9 << " GB float16 base; LoRA rank " << rank
            << ", " << fs::file_size(file) / 1e6 << " MB (setup " << setup_s << " s)\n";

  const auto table = sdxl::lora::ModuleTable::from_params(sdxl::lora::param_shapes(weights));
  sdxl::lora::LoraLibrary library(std::move(formats).value());
  t0 = Clock::now();
  auto lora = library.load(file, table);
  const double load_s = seconds_since(t0);
  if (!lora.ok()) {
    std::cerr << lora.status().message() << "\n";
    return 1;
  }
  t0 = Clock::now();
  auto again = library.load(file, table);
  const double cached_s = seconds_since(t0);

  // Breakdown, one thread, no parallel merge: the low-rank products alone as the merge forms
  // them (oneDNN where the BLAS is the reference one), the float16 -> float32 -> float16 round
  // trip with the backup copy, and optionally the plugins' own apply() (the old merge path).
  {
    const int threads = at::get_num_threads();
    at::set_num_threads(1);
    const auto& l = *lora.value();
    double product_s = 0, storage_s = 0;
    for (std::size_t i = 0; i < l.parse.patches.size(); ++i) {
      const at::Tensor& w = weights.at(l.parse.patches[i]->module() + "." + l.parse.patches[i]->parameter());
      double t = cpu_seconds();  // CPU time: one thread, so this is our own work even on a busy machine
      at::Tensor f = w.to(at::kFloat, false, true);
      at::Tensor backup = w.clone();
      at::Tensor back = at::empty_like(w).copy_(f);
      storage_s += cpu_seconds() - t;
      t = cpu_seconds();
      if (l.low_rank[i]) (void)sdxl::lora::low_rank_product(*l.low_rank[i], w.sizes(), w.device());
      product_s += cpu_seconds() - t;
    }
    std::cout << "breakdown (CPU s, 1 thread, oneDNN products " << (sdxl::models::onednn_matmul_active() ? "on" : "off")
              << "): low-rank products " << product_s << " s, float16 round trip + backup copy " << storage_s << " s\n";
    if (plugin_maths) {
      const double c0 = cpu_seconds();
      for (const auto& p : l.parse.patches) {
        const at::Tensor base = weights.at(p->module() + "." + p->parameter()).to(at::kFloat);
        (void)p->apply(base, 0.8);
      }
      std::cout << "plugin apply() maths alone (upcast + at::matmul delta + add): " << cpu_seconds() - c0 << " CPU s\n";
    }
    at::set_num_threads(threads);
  }

  // Keep a few originals to prove bit-identical restore (all of them would double the memory).
  std::map<std::string, at::Tensor> probes;
  for (auto it = weights.begin(); it != weights.end(); std::advance(it, std::min<std::size_t>(97, std::distance(it, weights.end()))))
    probes[it->first] = it->second.clone();
  sdxl::lora::MergeEngine engine(&weights);
  std::vector<std::shared_ptr<const sdxl::lora::LoadedLora>> parts;
  if (slices > 1) {
    for (const auto& f : slice_files) {
      auto l = library.load(f, table);
      if (!l.ok()) {
        std::cerr << l.status().message() << "\n";
        return 1;
      }
      parts.push_back(l.value());
    }
  } else {
    parts.push_back(lora.value());
  }
  double merge_s = 0, unmerge_s = 0, merge_cpu_s = 0;
  std::uint64_t peak_backup = 0;
  std::size_t changed = 0;
  for (const auto& part : parts) {
    t0 = Clock::now();
    const double c0 = cpu_seconds();
    auto stats = engine.merge({{part, 0.8}});
    merge_s += seconds_since(t0);
    merge_cpu_s += cpu_seconds() - c0;
    if (!stats.ok()) {
      std::cerr << stats.status().message() << "\n";
      return 1;
    }
    peak_backup = std::max(peak_backup, stats.value().backup_bytes);
    changed += stats.value().parameters_changed;
    t0 = Clock::now();
    engine.unmerge();
    unmerge_s += seconds_since(t0);
  }
  // The same merge with every patch through the plugins' apply() (at::matmul on this build's BLAS).
  double plugin_merge_s = 0, plugin_merge_cpu_s = 0;
  if (plugin_maths) {
    engine.set_host_low_rank(false);
    for (const auto& part : parts) {
      t0 = Clock::now();
      const double c0 = cpu_seconds();
      auto stats = engine.merge({{part, 0.8}});
      plugin_merge_s += seconds_since(t0);
      plugin_merge_cpu_s += cpu_seconds() - c0;
      if (!stats.ok()) {
        std::cerr << stats.status().message() << "\n";
        return 1;
      }
      engine.unmerge();
    }
    engine.set_host_low_rank(true);
    std::cout << "merge through plugin apply() (the previous maths): " << plugin_merge_s << " s, CPU time "
              << plugin_merge_cpu_s << " s\n";
  }
  for (const auto& f : slice_files) fs::remove(f);

  // Runtime mode: the same LoRA as adapters (weights never written). A switch is attach + detach.
  double attach_s = 0, detach_s = 0;
  std::uint64_t adapter_bytes = 0;
  {
    sdxl::lora::RuntimeEngine runtime(&weights, [](const std::string&) { return true; });
    t0 = Clock::now();
    auto st = runtime.attach({{lora.value(), {0.8, 0.8}}});
    attach_s = seconds_since(t0);
    if (!st.ok()) {
      std::cerr << st.status().message() << "\n";
      return 1;
    }
    adapter_bytes = st.value().adapter_bytes;
    t0 = Clock::now();
    runtime.detach();
    detach_s = seconds_since(t0);
  }
  bool identical = true;
  for (const auto& [k, v] : probes) identical = identical && at::equal(weights.at(k), v);

  std::cout << "format " << lora.value()->format << ", " << lora.value()->parse.patches.size() << " patches\n"
            << "load (open+detect+parse): " << load_s * 1e3 << " ms; cached load: " << cached_s * 1e3 << " ms\n"
            << "merge: " << merge_s << " s (" << changed << " parameters in " << parts.size() << " switch(es), "
            << base_bytes / 1e9 / merge_s << " GB/s of float16 weights), CPU time " << merge_cpu_s << " s, peak backups "
            << peak_backup / 1e9 << " GB\n"
            << "unmerge: " << unmerge_s << " s; originals restored bit-identically: " << (identical ? "yes" : "NO") << "\n"
            << "switch (load + merge + unmerge): " << load_s + merge_s + unmerge_s << " s, threads " << at::get_num_threads()
            << "\n"
            << "runtime mode: attach " << attach_s * 1e3 << " ms, detach " << detach_s * 1e3 << " ms, adapters "
            << adapter_bytes / 1e6 << " MB (weights never written)\n";
  fs::remove(file);
  return identical ? 0 : 1;
}
