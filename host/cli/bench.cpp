// `sdxl bench`: issue 10's figures from the host itself, with random weights (no download):
//   unet      ms per UNet call (full-size SDXL base UNet, or --tiny: the golden tiny shape)
//   vae       ms per decode, untiled, tiled 64/16 and in two full-width strips, through the VAE
//             plugin on the chosen device (job dtype, no upcast); then "auto": the decode a job
//             would run, chosen under [memory] vae_decode and the budget (cli/bench_vae_choice.h),
//             with the CUDA allocator's peak
//   generate  a whole `generate` run: a random full-size fp16 single-file checkpoint written from
//             sdxl_full_layouts.json, loaded (load time, time to the first UNet step), then
//             --steps steps at --size with CFG and the decode (--tiny: the built-in demo model);
//             on CUDA the job runs twice more, eager and with the UNet replayed from a CUDA graph;
//             then the server's throughput with and without overlapped decode (cli/bench_serve.h)
// Figures go to stdout as one JSON object; progress goes to the log. GPU memory is the device's
// used memory sampled every 10 ms (total − free, as nvidia-smi shows it), host memory the peak RSS.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "bench/device_wait.h"
#include "bench/random_checkpoint.h"
#include "bench/random_sdxl.h"
#include "bench/timing.h"
#include "cli/bench_serve.h"
#include "cli/bench_vae_choice.h"
#include "cli/startup.h"
#include "gpu/unet_cuda_graph.h"
#include "memory/device_memory.h"
#include "models/common/attention_backend.h"
#include "models/demo/demo_model.h"
#include "models/demo/demo_shapes.h"
#include "noise/per_image_noise.h"
#include "pipeline/generate.h"
#include "util/logging.h"
#include "util/peak_rss.h"

namespace sdxl::cli {
namespace {

namespace fs = std::filesystem;
using bench::Clock;
using bench::median;
using bench::ms_since;
using nlohmann::json;


// Samples the GPU's used memory while alive; peak() in MiB (null without CUDA).
class GpuMemorySampler {
 public:
  explicit GpuMemorySampler(bool cuda) {
    if (cuda) thread_ = std::thread([this] {
        while (!stop_) {
          peak_ = std::max<std::uint64_t>(peak_, memory::used_gpu_memory(0));
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      });
  }
  ~GpuMemorySampler() { finish(); }
  json finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return peak_ ? json(static_cast<double>(peak_) / 1048576.0) : json(nullptr);
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> peak_{0};
  std::thread thread_;
};

struct BenchOptions {
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = at::kFloat;
  std::int64_t size = 1024, batch = 2, iters = 5, steps = 30;
  std::int64_t serve_jobs = 4;  ///< jobs of the server throughput figure (0: skip it)
  bool tiny = false;
  std::string layouts, clip_vocab;
  fs::path tmp = fs::temp_directory_path();
};

sdk::Result<json> bench_unet(const BenchOptions& o) {
  const auto opts = at::TensorOptions().dtype(o.dtype).device(o.device);
  auto config = models::UNetConfig::from_diffusers_json(o.tiny ? bench::tiny_unet_config() : bench::sdxl_base_unet_config(),
                                                        "benchmark UNet");
  if (!config.ok()) return config.status();
  auto shapes = models::UNet2DConditionModel::parameter_shapes(config.value());
  if (!shapes.ok()) return shapes.status();
  at::manual_seed(0);
  auto unet = models::UNet2DConditionModel::load(bench::random_weights(shapes.value(), opts), config.value(),
                                                 "random weights", o.dtype, o.device);
  if (!unet.ok()) return unet.status();
  const auto& c = config.value();
  const std::int64_t lat = o.size / 8, n_ids = 6;
  models::UNetInputs in;
  in.sample = at::randn({o.batch, c.in_channels, lat, lat}, opts);
  in.timestep = at::full({o.batch}, 500.0, opts.dtype(at::kFloat));
  in.encoder_hidden_states = at::randn({o.batch, 77, c.cross_attention_dim}, opts);
  in.text_embeds = at::randn({o.batch, c.projection_class_embeddings_input_dim - n_ids * c.addition_time_embed_dim}, opts);
  const double px = static_cast<double>(o.size);
  in.time_ids = at::tensor({px, px, 0.0, 0.0, px, px}).repeat({o.batch, 1}).to(o.device);
  std::vector<double> ms;
  for (std::int64_t i = -1; i < o.iters; ++i) {  // i = -1: warm-up
    const auto t = Clock::now();
    auto eps = unet.value()->forward(in);
    if (!eps.ok()) return eps.status();
    bench::wait_for_device(o.device);
    if (i >= 0) ms.push_back(ms_since(t));
  }
  return json{{"model", o.tiny ? "tiny" : "sdxl-base"}, {"batch", o.batch}, {"size", o.size},
              {"ms_median", median(ms)}, {"ms_min", *std::min_element(ms.begin(), ms.end())}, {"calls", ms.size()}};
}

sdk::Result<json> bench_vae(const BenchOptions& o, const plugins::PluginRegistry& registry) {
  json config = bench::sdxl_vae_config();
  if (o.tiny) config["block_out_channels"] = {32, 64, 64, 64};
  at::manual_seed(0);
  const auto weights = bench::random_weights(models::demo::autoencoder_kl_shapes(config), at::TensorOptions());
  const plugins::Placement placement{o.device, o.dtype};
  const at::Tensor z = (at::randn({1, 4, o.size / 8, o.size / 8}) * 0.13025 * 5).to(o.device);
  json out = {{"model", o.tiny ? "tiny" : "sdxl-vae"}, {"size", o.size}};
  // Untiled; square 64/16 tiles; two full-width strips (what the decode choice takes first when
  // the untiled decode does not fit: docs/vae.md).
  const std::int64_t latent = o.size / 8, strip = (latent + 16 + 1) / 2;
  struct Layout {
    std::string name;
    std::int64_t height, width;  // latent pixels per tile; 0: untiled
  };
  const Layout layouts[] = {{"untiled", 0, 0},
                            {"tiled_64_16", 64, 64},
                            {"strips_" + std::to_string(strip) + "x" + std::to_string(latent), strip, latent}};
  for (const Layout& l : layouts) {
    sdk::Options options;
    options.set("force_upcast", std::string("off"));
    options.set("tiling", l.height > 0);
    options.set("tile_height", std::max<std::int64_t>(l.height, 8));
    options.set("tile_width", std::max<std::int64_t>(l.width, 8));
    options.set("tile_overlap", std::int64_t{16});
    auto vae = registry.create_vae_variant("kl", &options, &placement);
    if (!vae.ok()) return vae.status();
    if (auto st = vae.value()->load({"random VAE", &weights, config.dump()}); !st.ok()) return st;
    std::vector<double> ms;
    for (std::int64_t i = -1; i < std::max<std::int64_t>(1, o.iters / 2); ++i) {
      const auto t = Clock::now();
      auto img = vae.value()->decode(z, nullptr);
      if (!img.ok()) return img.status();
      bench::wait_for_device(o.device);
      if (i >= 0) ms.push_back(ms_since(t));
    }
    out[l.name] = {{"ms_median", median(ms)},
                   {"estimate_mib", vae.value()->estimate_decode_bytes(z.sizes()) / 1048576.0}};
  }
  // The decode a job would run: chosen by the pipeline under this run's budget and cap.
  auto chosen = bench_vae_choice(registry, o.device, o.dtype, weights, config.dump(), z,
                                 std::max<std::int64_t>(1, o.iters / 2));
  if (!chosen.ok()) return chosen.status();
  out["auto"] = chosen.value();
  return out;
}

sdk::Result<json> bench_generate(const BenchOptions& o, const plugins::PluginRegistry& registry) {
  pipeline::ModelSpec spec;
  spec.device = o.device;
  spec.dtype = o.dtype;
  fs::path file;
  json out = {{"steps", o.steps}, {"size", o.size}};
  if (o.tiny) {
    auto dir = models::demo::ensure_demo_model(models::demo::default_cache_dir());
    if (!dir.ok()) return dir.status();
    spec.path = dir.value();
    out["model"] = "demo";
  } else {
    std::ifstream in(o.layouts);
    if (!in) return sdk::not_found("--layouts: cannot read '" + o.layouts + "' (sdxl_full_layouts.json from the goldens)");
    const json layouts = json::parse(in, nullptr, false);
    if (layouts.is_discarded() || !layouts.contains("models"))
      return sdk::invalid_argument("--layouts: " + o.layouts + " is not a layouts file");
    file = o.tmp / "sdxl_bench_random_base_fp16.safetensors";
    std::uint64_t bytes = 0;
    const auto t = Clock::now();
    if (auto st = bench::write_random_single_file(file, layouts["models"]["sdxl-base-1.0"], &bytes); !st.ok()) return st;
    util::log_info("wrote " + file.string() + " (" + std::to_string(bytes >> 20) + " MiB) in " +
                   std::to_string(ms_since(t) / 1e3) + " s");
    spec.path = file;
    spec.clip_vocab = o.clip_vocab;
    out["model"] = "sdxl-base random fp16 single file";
  }
  const auto start = Clock::now();
  auto model = pipeline::SdxlModel::load(spec, registry);
  if (!file.empty()) fs::remove(file);  // the mapping keeps the data readable
  if (!model.ok()) return model.status();
  const double load_ms = ms_since(start);
  for (const auto& [component, u] : model.value()->uploads)  // GPU only: [gpu] staged_upload's figures
    out["uploads"][component] = {{"mib", u.bytes / 1048576.0}, {"ms", u.seconds * 1e3}, {"staged", u.staged},
                                 {"staging_buffers", u.chunks}, {"fallback", u.fallback}};
  pipeline::GenerateRequest req;
  req.prompts.prompts = {"a lighthouse on a cliff at dusk, volumetric light"};
  req.prompts.negatives = {"blurry"};
  req.width = req.height = o.size;
  req.steps = o.steps;
  req.sampler = "euler";
  noise::PerImageNoise noise(42, 1);
  pipeline::JobHooks hooks;
  hooks.noise = &noise;
  double first_step_ms = -1;
  hooks.progress = [&](std::int64_t done, std::int64_t) {
    if (done == 1 && first_step_ms < 0) first_step_ms = ms_since(start);
  };
  auto timed_job = [&]() -> sdk::Result<json> {
    const auto t = Clock::now();
    auto result = pipeline::generate(*model.value(), registry, req, hooks);
    if (!result.ok()) return result.status();
    const auto& s = result.value().seconds;
    return json{{"generate_ms", ms_since(t)}, {"text_ms", s.text * 1e3}, {"denoise_ms", s.denoise * 1e3},
                {"unet_ms", s.unet * 1e3}, {"ms_per_step", s.denoise * 1e3 / o.steps}, {"vae_ms", s.vae * 1e3}};
  };
  // As configured ([gpu] cuda_graphs, channels_last, fused_qkv), then, on CUDA, side by side: the
  // same job again eager and with the UNet replayed from a CUDA graph (its first call warms up, the
  // second captures), then both again channels-last, then both with q/k/v in one product.
  auto first = timed_job();
  if (!first.ok()) return first.status();
  out.update({{"load_ms", load_ms}, {"start_to_first_step_ms", first_step_ms}});
  out.update(first.value());
  out["cuda_graphs"] = pipeline::cuda_graphs_enabled();
  if (o.device.is_cuda() && gpu::UNetCudaGraph::available()) {
    // The same job eager (`eager`) and replayed (`replayed`), [gpu] cuda_graphs restored after.
    auto side_by_side = [&](const char* eager, const char* replayed) -> sdk::Status {
      const bool configured = pipeline::cuda_graphs_enabled();
      for (const bool graphs : {false, true}) {
        pipeline::set_cuda_graphs(graphs);
        auto again = timed_job();
        pipeline::set_cuda_graphs(configured);
        if (!again.ok()) return again.status();
        again.value()["graph_replays"] = model.value()->unet_graphs->replays();
        out[graphs ? replayed : eager] = again.value();
      }
      return {};
    };
    if (auto st = side_by_side("again_eager", "again_cuda_graphs"); !st.ok()) return st;
    // Then channels-last ([gpu] channels_last: NHWC convolutions and GroupNorm kernels); last,
    // since it re-seats the loaded UNet's weights for good.
    if (!model.value()->unet->channels_last()) {
      model.value()->unet->use_channels_last();
      if (auto st = side_by_side("again_channels_last", "again_channels_last_cuda_graphs"); !st.ok()) return st;
    }
    // Then q/k/v in one product ([gpu] fused_qkv), likewise for good.
    if (model.value()->unet->stacked_self_attentions() == 0 &&
        model.value()->unet->stack_self_attention_projections() > 0)
      if (auto st = side_by_side("again_fused_qkv", "again_fused_qkv_cuda_graphs"); !st.ok()) return st;
  }
  out["gpu_channels_last"] = pipeline::unet_channels_last_enabled();  // the switch ([gpu] channels_last)
  out["unet_channels_last"] = model.value()->unet->channels_last();   // the layout it ran in (CUDA only)
  out["gpu_fused_qkv"] = pipeline::unet_fused_qkv_enabled();          // the switch ([gpu] fused_qkv)
  // Self-attentions computing q/k/v in one product at the end (CUDA only), of how many.
  out["unet_stacked_self_attentions"] = model.value()->unet->stacked_self_attentions();
  out["unet_self_attentions"] = model.value()->unet->self_attentions();
  // Server throughput, decode in turn vs overlapped with the next job ([server] overlap_decode).
  if (o.serve_jobs == 0) return out;
  ServeBenchJob serve;
  serve.prompt = req.prompts.prompts.front();
  serve.negative = req.prompts.negatives.front();
  serve.size = o.size;
  serve.steps = o.steps;
  serve.jobs = o.serve_jobs;
  auto served = bench_serve(model.value(), registry, serve);
  if (!served.ok()) return served.status();
  out["serve"] = served.value();
  return out;
}

int run_bench(Args& args, const GlobalOptions& global) {
  for (const char* o : {"device", "dtype", "size", "batch", "iters", "steps", "parts", "layouts", "clip-vocab", "tmp",
                        "serve-jobs"})
    args.option(o);
  args.flag("tiny");
  if (!parse_or_complain(args, "bench")) return kExitUsage;
  auto app = start_app(global);
  if (!app) return kExitUsage;
  BenchOptions o;
  try {
    // The generate command's device and dtype words.
    pipeline::ModelSpec placement;
    if (auto st = pipeline::resolve_device_and_dtype(args.get_or("device", "auto"), args.get_or("dtype", "auto"),
                                                     "--device", "--dtype", placement);
        !st.ok())
      return util::log_error(st.message()), kExitUsage;
    o.device = placement.device;
    o.dtype = placement.dtype;
    o.tiny = args.get("tiny").has_value();
    o.size = std::stoll(args.get_or("size", o.tiny ? "128" : "1024"));
    o.batch = std::stoll(args.get_or("batch", "2"));
    o.iters = std::stoll(args.get_or("iters", "5"));
    o.steps = std::stoll(args.get_or("steps", o.tiny ? "4" : "30"));
    o.serve_jobs = std::stoll(args.get_or("serve-jobs", "4"));
  } catch (const std::exception&) {
    return util::log_error("bench: --size, --batch, --iters, --steps and --serve-jobs take integers"), kExitUsage;
  }
  if (o.size <= 0 || o.size % 8 != 0 || o.batch < 1 || o.iters < 1 || o.steps < 1 || o.serve_jobs < 0)
    return util::log_error("bench: --size must be a positive multiple of 8; --batch, --iters, --steps at least 1; "
                           "--serve-jobs at least 0"),
           kExitUsage;
  o.layouts = args.get_or("layouts", "../shared/golden/models/sdxl_full_layouts.json");
  o.clip_vocab = args.get_or("clip-vocab", app->config.clip_vocab.empty()
                                               ? "../shared/data/clip/bpe_simple_vocab_16e6.txt.gz"
                                               : config::config_path(app->config, app->config.clip_vocab).string());
  if (auto t = args.get("tmp")) o.tmp = *t;

  json report = {{"device", o.device.str()}, {"dtype", c10::toString(o.dtype)}, {"threads", at::get_num_threads()},
                 {"attention", models::attention_backend_name(models::current_attention_backend())}};  // [gpu] attention
  const std::string parts = "," + args.get_or("parts", "unet,vae,generate") + ",";
  for (const std::string part : {"unet", "vae", "generate"}) {
    if (parts.find("," + part + ",") == std::string::npos) continue;
    util::log_info("bench " + part + " on " + o.device.str() + " (" + c10::toString(o.dtype) + ")");
    GpuMemorySampler gpu(o.device.is_cuda());
    sdk::Result<json> r = sdk::internal_error("not run");
    try {
      r = part == "unet" ? bench_unet(o) : part == "vae" ? bench_vae(o, *app->registry) : bench_generate(o, *app->registry);
    } catch (const std::exception& e) {
      r = sdk::internal_error(e.what());
    }
    if (!r.ok()) return util::log_error("bench " + part + ": " + r.status().message()), kExitFailure;
    r.value()["peak_gpu_used_mib"] = gpu.finish();
    report[part] = r.value();
  }
  report["peak_rss_mib"] = util::peak_rss_mib();
  std::cout << report.dump(2) << "\n";
  return kExitOk;
}

SDXL_REGISTER_COMMAND(Command{
    "bench", "measure the UNet, the VAE and a whole generation with random weights (JSON on stdout)",
    "usage: sdxl bench [--parts unet,vae,generate] [--device auto|cpu|cuda] [--dtype auto|f32|f16|bf16]\n"
    "                  [--size PX] [--batch N] [--iters N] [--steps N] [--serve-jobs N] [--tiny]\n"
    "                  [--layouts sdxl_full_layouts.json] [--clip-vocab FILE] [--tmp DIR]\n"
    "Full-size SDXL networks with random weights (no download). `generate` writes a random fp16\n"
    "single-file checkpoint (about 7 GB, in --tmp, removed after loading) from the layouts file and\n"
    "times its load, the start to the first UNet step, and --steps steps with CFG plus the decode,\n"
    "then --serve-jobs jobs (default 4; 0: skip) through the job server, decoding in turn and\n"
    "overlapped with the next job's denoising ([server] overlap_decode), side by side.\n"
    "--tiny uses small shapes and the built-in demo model (a quick check on the CPU).\n"
    "Defaults: 1024 px, batch 2 (one CFG step), 5 calls after a warm-up, 30 steps; f16 on CUDA.",
    run_bench});

}  // namespace
}  // namespace sdxl::cli
