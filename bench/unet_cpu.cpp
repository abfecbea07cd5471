// UNet benchmark: milliseconds per UNet call and peak RSS, and the time from opening a full-size
// float16 single-file SDXL checkpoint until the UNet is ready. Prints figures; not a test.
//
//   bench_unet_cpu                       tiny UNet (the golden model's shape), 32x32 latents, batch 2
//   bench_unet_cpu --full                SDXL base UNet, random weights, 512x512 (64x64 latents), batch 2
//                                        (float32 weights alone are 10.3 GB)
//   bench_unet_cpu --checkpoint          writes a 6.9 GB float16 SDXL base single file with random values
//                                        under the real names/shapes (from sdxl_full_layouts.json), then
//                                        times load_checkpoint + UNet construction (and deletes it);
//                                        on CUDA both uploads side by side: per-tensor .to() and the
//                                        pinned staging buffers of io/device_upload.h
//   options: --iters N (3)  --size PX  --batch B  --dtype f32|f16|bf16  --device cpu|cuda
//            --layouts FILE  --tmp DIR  --keep  --cudnn-benchmark  --channels-last
//            --graph            time the call replayed from a CUDA graph (gpu/unet_cuda_graph.h) instead
//                               of eager calls: what is left once launch overhead is gone (diffusers'
//                               "CUDA-graph replay" figures in gpu-machine.md); CUDA builds only
//            --fused-qkv        after the timed calls, the same calls again with each self-attention's
//                               q/k/v weights stacked, one product instead of three ([gpu] fused_qkv;
//                               models/common/stacked_weights.h): both medians side by side
//            --context-kv       the cross-attentions' keys and values computed once before the timed
//                               calls, as a job does for its steps (models/unet/cross_attention_kv.h);
//                               with --graph the graph reads them from its input buffers
//                               (gpu/unet_graph_inputs.h) instead of computing them at each replay
//            --attention NAME   auto|flash|cudnn|efficient|math: libtorch's attention kernel, as
//                               [gpu] attention (models/common/attention_backend.h); torch 2.x
//            --profile PREFIX   one more call under the Kineto profiler: PREFIX.kernels.tsv (kernel
//                               times, largest first), PREFIX.trace.json (bench/gpu/kernel_profile.h)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "bench/device_wait.h"
#include "bench/random_checkpoint.h"
#include "bench/timing.h"
#include "io/device_upload.h"
#include "gpu/kernel_profile.h"
#include "util/peak_rss.h"
#include "bench/random_sdxl.h"
#include "models/common/attention_backend.h"
#include "models/loader/checkpoint.h"
#include "gpu/unet_cuda_graph.h"
#include "models/unet/unet_model.h"

namespace fs = std::filesystem;
using namespace sdxl;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }


using bench::random_parameter;
nlohmann::json sdxl_base_config() { return bench::sdxl_base_unet_config(); }
nlohmann::json tiny_config() { return bench::tiny_unet_config(); }

struct Options {
  bool full = false, checkpoint = false, keep = false, dtype_given = false, channels_last = false, graph = false;
  bool context_kv = false, fused_qkv = false;
  int iters = 3;
  std::int64_t size = 0, batch = 2;
  c10::ScalarType dtype = at::kFloat;
  c10::Device device = at::kCPU;
  fs::path layouts = fs::path(__FILE__).parent_path() / "../../shared/golden/models/sdxl_full_layouts.json";
  fs::path tmp = fs::temp_directory_path();
  std::string profile;  // output prefix of a profiled call; empty: none
};

int bench_forward(const Options& opt) {
  const auto json = opt.full ? sdxl_base_config() : tiny_config();
  auto config = models::UNetConfig::from_diffusers_json(json, opt.full ? "SDXL base config" : "tiny config");
  if (!config.ok()) return std::cerr << config.status().message() << "\n", 1;
  auto shapes = models::UNet2DConditionModel::parameter_shapes(*config);
  if (!shapes.ok()) return std::cerr << shapes.status().message() << "\n", 1;
  auto t0 = Clock::now();
  at::manual_seed(0);
  std::map<std::string, at::Tensor> weights;
  std::uint64_t params = 0;
  const auto o = at::TensorOptions().dtype(opt.dtype).device(opt.device);
  for (const auto& [name, shape] : *shapes) {
    weights[name] = random_parameter(name, shape, o);
    if (opt.channels_last && shape.size() == 4) weights[name] = weights[name].contiguous(at::MemoryFormat::ChannelsLast);
    params += weights[name].numel();
  }
  auto unet = models::UNet2DConditionModel::load(weights, *config, "random weights", opt.dtype, opt.device);
  weights.clear();
  if (!unet.ok()) return std::cerr << unet.status().message() << "\n", 1;
  std::printf("UNet %s: %.3f B parameters, random weights built in %.1f s\n", opt.full ? "SDXL base" : "tiny",
              params / 1e9, seconds_since(t0));

  const std::int64_t px = opt.size > 0 ? opt.size : (opt.full ? 512 : 256);
  const std::int64_t lat = px / 8, b = opt.batch;
  models::UNetInputs in;
  in.sample = at::randn({b, 4, lat, lat}, o);
  if (opt.channels_last) in.sample = in.sample.contiguous(at::MemoryFormat::ChannelsLast);
  in.timestep = at::full({b}, 500.0, o.dtype(at::kFloat));
  in.encoder_hidden_states = at::randn({b, 77, config->cross_attention_dim}, o);
  const std::int64_t n_ids = 6, pooled = config->projection_class_embeddings_input_dim - n_ids * config->addition_time_embed_dim;
  in.text_embeds = at::randn({b, pooled}, o);
  in.time_ids = at::tensor({double(px), double(px), 0.0, 0.0, double(px), double(px)}, o.dtype(at::kFloat)).repeat({b, 1});

  if (opt.context_kv) {  // once, as a job does before its steps
    auto kv = (*unet)->cross_attention_kv(in.encoder_hidden_states);
    if (!kv.ok()) return std::cerr << kv.status().message() << "\n", 1;
    in.context_kv = std::move(kv).value();
    std::printf("context keys/values: %zu layers, %.1f MiB\n", in.context_kv->layers(), in.context_kv->bytes() / 1048576.0);
  }
  auto sync = [&]() { bench::wait_for_device(opt.device); };
  // One warm-up call (eager, also before a capture), then opt.iters timed ones; the median.
  auto time_calls = [&](bool fused) -> double {
    std::unique_ptr<gpu::UNetCudaGraph> graph;
    std::vector<double> times;
    for (int i = -1; i < opt.iters; ++i) {
      if (opt.graph && i == 0) {
        auto captured = gpu::UNetCudaGraph::capture(**unet, in);
        if (!captured.ok()) return std::cerr << "bench_unet --graph: " << captured.status().message() << "\n", -1.0;
        graph = std::move(captured).value();
      }
      auto t = Clock::now();
      const std::clock_t cpu0 = std::clock();  // process CPU time: meaningful on a shared, loaded machine
      auto eps = graph ? graph->replay(in) : (*unet)->forward(in);
      if (!eps.ok()) return std::cerr << eps.status().message() << "\n", -1.0;
      sync();
      const double ms = seconds_since(t) * 1e3;
      const double cpu_ms = 1e3 * double(std::clock() - cpu0) / CLOCKS_PER_SEC;
      if (i >= 0) times.push_back(ms);
      std::printf("%s %lldx%lld batch %lld %s%s%s%s: %.1f ms wall, %.1f ms CPU%s\n", opt.device.str().c_str(),
                  (long long)px, (long long)px, (long long)b, c10::toString(opt.dtype),
                  graph ? " replayed from a CUDA graph" : "", opt.context_kv ? " with context k/v" : "",
                  fused ? " (fused q/k/v)" : "", ms, cpu_ms, i < 0 ? " (warm-up)" : "");
    }
    return bench::median(std::move(times));
  };
  const double plain_ms = time_calls(false);
  if (plain_ms < 0) return 1;
  if (opt.fused_qkv) {  // then the same calls with q/k/v in one product, side by side in this process
    const std::size_t stacked = (*unet)->stack_self_attention_projections();
    std::printf("q/k/v in one product: %zu of %zu self-attentions\n", stacked, (*unet)->self_attentions());
    const double fused_ms = time_calls(true);
    if (fused_ms < 0) return 1;
    std::printf("fused q/k/v side by side: %.2f ms median, three products %.2f ms (ratio %.3f)\n", fused_ms, plain_ms,
                plain_ms > 0 ? fused_ms / plain_ms : 0.0);
  }
  std::printf("peak RSS %.0f MiB, threads %d\n", util::peak_rss_mib(), at::get_num_threads());
  if (!opt.profile.empty())
    bench::profile_kernels([&]() { (void)(*unet)->forward(in); sync(); }, opt.profile);
  return 0;
}

int bench_checkpoint(const Options& opt) {
  std::ifstream in(opt.layouts);
  if (!in) return std::cerr << "cannot read " << opt.layouts << " (pass --layouts)\n", 1;
  const auto layouts = nlohmann::json::parse(in);
  const fs::path file = opt.tmp / "bench_sdxl_base_random_fp16.safetensors";
  auto t0 = Clock::now();
  std::uint64_t bytes = 0;
  if (!bench::write_random_single_file(file, layouts["models"]["sdxl-base-1.0"], &bytes).ok())
    return std::cerr << "writing " << file << " failed\n", 1;
  std::printf("wrote %s: %.2f GB in %.1f s\n", file.c_str(), bytes / 1e9, seconds_since(t0));

  t0 = Clock::now();
  models::loader::LoadOptions lo;
  lo.components = {"unet"};
  auto ck = models::loader::load_checkpoint(file, lo);
  if (!ck.ok()) return std::cerr << ck.status().message() << "\n", 1;
  const double t_open = seconds_since(t0);
  const auto& w = ck->components.at("unet");
  auto config = models::UNetConfig::from_diffusers_json(w.config, w.config_source);
  if (!config.ok()) return std::cerr << config.status().message() << "\n", 1;
  auto sync = [&]() { bench::wait_for_device(opt.device); };
  // How the weights reach the device: as the networks do it themselves (per-tensor .to()), or
  // staged first (what `sdxl` does on a GPU). On CUDA: direct, staged, direct again, side by side.
  auto build = [&](bool staged, const char* label) -> int {
    const auto t = Clock::now();
    std::map<std::string, at::Tensor> uploaded;
    io::UploadStats stats;
    if (staged) {
      auto up = io::upload_tensors(w.tensors, opt.device, opt.dtype, w.source, {}, &stats);
      if (!up.ok()) return std::cerr << up.status().message() << "\n", 1;
      uploaded = std::move(up).value();
    }
    auto unet = models::UNet2DConditionModel::load(staged ? uploaded : w.tensors, *config, w.source, opt.dtype,
                                                   opt.device);
    if (!unet.ok()) return std::cerr << unet.status().message() << "\n", 1;
    sync();
    std::printf("UNet ready, %s (%s on %s, %.2f GB resident): %.3f s after the open", label,
                c10::toString(opt.dtype), opt.device.str().c_str(), (*unet)->resident_bytes() / 1e9, seconds_since(t));
    if (staged) std::printf(" (upload %.3f s, %zu buffers)", stats.seconds, stats.chunks);
    std::printf("\n");
    return 0;
  };
  std::printf("open + map + name mapping: %.3f s\n", t_open);
  if (int rc = build(false, "per-tensor .to()")) return rc;
  if (opt.device.is_cuda()) {
    if (int rc = build(true, "staged upload")) return rc;
    if (int rc = build(false, "per-tensor .to() again")) return rc;
  }
  if (opt.dtype == at::kHalf && opt.device.is_cpu())
    std::printf("(float16 on the CPU keeps zero-copy views: pages are read on first use, not here)\n");
  // First touch of every UNet weight page (from the page cache: the file was just written).
  t0 = Clock::now();
  double checksum = 0;
  for (const auto& [name, t] : w.tensors) checksum += t.reshape({-1}).narrow(0, 0, 1).item<double>();
  at::Tensor total = at::zeros({}, at::kDouble);
  for (const auto& [name, t] : w.tensors) total += t.to(at::kFloat).abs().sum().to(at::kDouble);
  std::printf("reading every UNet weight once (page-in + sum): %.2f s (checksum %.3g)\n", seconds_since(t0),
              checksum + total.item<double>());
  std::printf("peak RSS %.0f MiB\n", util::peak_rss_mib());
  if (!opt.keep) fs::remove(file);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured, also in a log
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--full") opt.full = true;
    else if (a == "--checkpoint") opt.checkpoint = true;
    else if (a == "--keep") opt.keep = true;
    else if (a == "--cudnn-benchmark") at::globalContext().setBenchmarkCuDNN(true);  // autotune conv algorithms
    else if (a == "--channels-last") opt.channels_last = true;
    else if (a == "--fused-qkv") opt.fused_qkv = true;
    else if (a == "--graph") opt.graph = true;
    else if (a == "--context-kv") opt.context_kv = true;
    else if (a == "--iters") opt.iters = std::stoi(next());
    else if (a == "--size") opt.size = std::stoll(next());
    else if (a == "--batch") opt.batch = std::stoll(next());
    else if (a == "--layouts") opt.layouts = next();
    else if (a == "--tmp") opt.tmp = next();
    else if (a == "--profile") opt.profile = next();
    else if (a == "--attention") {
      if (const auto st = sdxl::models::set_attention_backend(next()); !st.ok())
        return std::cerr << "--attention: " << st.message() << "\n", 2;
    }
    else if (a == "--device") opt.device = c10::Device(next());
    else if (a == "--dtype") {
      const std::string d = next();
      opt.dtype = d == "f16" ? at::kHalf : d == "bf16" ? at::kBFloat16 : at::kFloat;
      opt.dtype_given = true;
    } else {
      std::cerr << "unknown option " << a << " (see the comment at the top of bench/unet_cpu.cpp)\n";
      return 2;
    }
  }
  try {
    if (opt.checkpoint) {
      Options ck = opt;
      if (!opt.dtype_given) ck.dtype = at::kHalf;  // the stored dtype: zero-copy views
      return bench_checkpoint(ck);
    }
    return bench_forward(opt);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
