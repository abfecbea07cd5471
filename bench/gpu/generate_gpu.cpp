// End-to-end GPU generation benchmark (issue 10's "30 steps 1024² + decode" row): the full SDXL
// UNet and VAE with random weights, an Euler CFG loop (batch 2 = one CFG step) and the decode, all
// on the device, timed from the first UNet call until the picture is on the host. Text encoding is
// not included (random conditioning stands in; the two CLIP encoders cost one call each).
// Prints figures; not a test.
//
//   bench_generate [--device cuda] [--dtype f16|bf16|f32] [--size 1024] [--steps 30] [--cfg 5]
//                  [--runs 3] [--tiny] [--graph] [--channels-last] [--fused-qkv] [--context-kv]
//   --tiny   the golden tiny UNet's shape (quick CPU check of the loop)
//   --graph  replay the UNet as a CUDA graph (host/gpu/unet_cuda_graph.h; needs SDXL_HAVE_CUDA_GRAPH)
//   --channels-last  the UNet's 4-D weights and its input in NHWC order (the host's [gpu]
//            channels_last default since 2026-11-27)
//   --fused-qkv  each self-attention's q/k/v in one product ([gpu] fused_qkv)
//   --context-kv  the cross-attentions' keys and values once per run, before its first step (timed),
//            as a job's denoise loop does (models/unet/cross_attention_kv.h); with --graph the
//            graph reads them from its buffers instead of computing them at every step
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "bench/random_sdxl.h"
#include "models/unet/unet_model.h"
#include "random_vae.h"
#include "gpu/unet_cuda_graph.h"

using namespace sdxl;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count() * 1e3; }

// SDXL's Euler discrete schedule: scaled-linear betas 0.00085..0.012 over 1000 steps, "leading"
// spacing with offset 1; sigmas descending, then 0.
std::vector<std::pair<double, double>> euler_schedule(int steps) {  // (timestep, sigma) per step
  std::vector<double> alphas_cumprod(1000);
  double prod = 1.0;
  for (int i = 0; i < 1000; ++i) {
    const double b = std::pow(std::sqrt(0.00085) + (std::sqrt(0.012) - std::sqrt(0.00085)) * i / 999.0, 2);
    prod *= 1.0 - b;
    alphas_cumprod[i] = prod;
  }
  std::vector<std::pair<double, double>> out;
  const int ratio = 1000 / steps;
  for (int i = steps - 1; i >= 0; --i) {
    const int t = i * ratio + 1;
    out.emplace_back(t, std::sqrt((1 - alphas_cumprod[t]) / alphas_cumprod[t]));
  }
  return out;
}

struct Options {
  c10::Device device = c10::Device("cuda");
  c10::ScalarType dtype = at::kHalf;
  std::int64_t size = 1024;
  int steps = 30, runs = 3;
  double cfg = 5.0;
  bool tiny = false, graph = false, channels_last = false, fused_qkv = false, context_kv = false;
};

int run(const Options& opt) {
  const auto o = at::TensorOptions().dtype(opt.dtype).device(opt.device);
  auto config = models::UNetConfig::from_diffusers_json(opt.tiny ? bench::tiny_unet_config() : bench::sdxl_base_unet_config(),
                                                        "benchmark UNet");
  if (!config.ok()) return std::cerr << config.status().message() << "\n", 1;
  auto shapes = models::UNet2DConditionModel::parameter_shapes(config.value());
  if (!shapes.ok()) return std::cerr << shapes.status().message() << "\n", 1;
  at::manual_seed(0);
  auto weights = bench::random_weights(shapes.value(), o);
  const auto layout = opt.channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  for (auto& [name, w] : weights)
    if (w.dim() == 4) w = w.contiguous(layout);
  auto unet = models::UNet2DConditionModel::load(weights, config.value(), "random weights", opt.dtype, opt.device);
  weights.clear();
  if (!unet.ok()) return std::cerr << unet.status().message() << "\n", 1;
  if (opt.fused_qkv) std::printf("q/k/v in one product: %zu self-attentions\n", unet.value()->stack_self_attention_projections());
  sdk::Options vo;
  vo.set("force_upcast", std::string("off"));
  auto vae = bench::random_kl_vae(opt.device, opt.dtype, vo);
  if (!vae.ok()) return std::cerr << vae.status().message() << "\n", 1;

  // Conditioning rows [negative; positive], random (text encoding is not timed).
  const std::int64_t lat = opt.size / 8, n_ids = 6;
  const auto& c = config.value();
  models::UNetInputs in;
  in.encoder_hidden_states = at::randn({2, 77, c.cross_attention_dim}, o);
  in.text_embeds = at::randn({2, c.projection_class_embeddings_input_dim - n_ids * c.addition_time_embed_dim}, o);
  const double px = static_cast<double>(opt.size);
  in.time_ids = at::tensor({px, px, 0.0, 0.0, px, px}, at::TensorOptions().dtype(at::kFloat)).repeat({2, 1}).to(opt.device);
  in.sample = at::zeros({2, 4, lat, lat}, o).contiguous(layout);
  in.timestep = at::zeros({2}, at::TensorOptions().dtype(at::kFloat).device(opt.device));

  auto make_context_kv = [&]() -> sdk::Status {
    auto kv = unet.value()->cross_attention_kv(in.encoder_hidden_states);
    if (!kv.ok()) return kv.status();
    in.context_kv = std::move(kv).value();
    return sdk::Status::Ok();
  };
  if (opt.context_kv)
    if (auto st = make_context_kv(); !st.ok()) return std::cerr << st.message() << "\n", 1;
  std::unique_ptr<gpu::UNetCudaGraph> graph;
  if (opt.graph) {
    auto g = gpu::UNetCudaGraph::capture(*unet.value(), in);
    if (!g.ok()) return std::cerr << "--graph: " << g.status().message() << "\n", 2;
    graph = std::move(g).value();
  }
  auto unet_call = [&](const models::UNetInputs& x) -> sdk::Result<at::Tensor> {
    if (graph) return graph->replay(x);
    return unet.value()->forward(x);
  };

  const auto schedule = euler_schedule(opt.steps);
  std::vector<double> totals, unet_ms, vae_ms;
  for (int r = -1; r < opt.runs; ++r) {  // r = -1: warm-up
    at::manual_seed(42);
    const double sigma0 = schedule.front().second;
    at::Tensor x = at::randn({1, 4, lat, lat}, at::TensorOptions().dtype(at::kFloat)).to(opt.device) *
                   std::sqrt(sigma0 * sigma0 + 1.0);  // "leading" spacing: init_noise_sigma
    auto sync = [&] { (void)x.sum().cpu(); };
    sync();
    const auto t0 = Clock::now();
    if (opt.context_kv)  // a new job's: with --graph, copied into the graph's buffers at its first replay
      if (auto st = make_context_kv(); !st.ok()) return std::cerr << st.message() << "\n", 1;
    for (int i = 0; i < opt.steps; ++i) {
      const double sigma = schedule[i].second, next = i + 1 < opt.steps ? schedule[i + 1].second : 0.0;
      in.sample = (x / std::sqrt(sigma * sigma + 1.0)).to(opt.dtype).repeat({2, 1, 1, 1}).contiguous(layout);
      in.timestep = at::full({2}, schedule[i].first, at::TensorOptions().dtype(at::kFloat).device(opt.device));
      auto eps = unet_call(in);
      if (!eps.ok()) return std::cerr << eps.status().message() << "\n", 1;
      at::Tensor e = eps.value().to(at::kFloat);
      at::Tensor guided = e[0] + opt.cfg * (e[1] - e[0]);
      x = x + (next - sigma) * guided.unsqueeze(0);
    }
    sync();
    const double t_unet = ms_since(t0);
    const auto t1 = Clock::now();
    auto img = vae.value()->vae->decode((x / 0.13025).to(opt.dtype), nullptr);
    if (!img.ok()) return std::cerr << img.status().message() << "\n", 1;
    const at::Tensor pixels = img.value().add(1).mul(127.5).clamp(0, 255).to(at::kByte).cpu();  // on the host
    const double t_vae = ms_since(t1), total = ms_since(t0);
    std::printf("%s %lldx%lld %s, %d steps%s%s%s%s: %.1f ms total (denoise %.1f ms = %.2f ms/step, decode %.1f ms)%s\n",
                opt.device.str().c_str(), (long long)opt.size, (long long)opt.size, c10::toString(opt.dtype), opt.steps,
                opt.graph ? " (CUDA graph)" : "", opt.channels_last ? " (channels-last)" : "",
                opt.fused_qkv ? " (fused q/k/v)" : "", opt.context_kv ? " (context k/v once)" : "", total, t_unet,
                t_unet / opt.steps, t_vae, r < 0 ? " (warm-up)" : "");
    if (r >= 0) {
      totals.push_back(total);
      unet_ms.push_back(t_unet);
      vae_ms.push_back(t_vae);
    }
    if (!std::isfinite(pixels.to(at::kFloat).mean().item<double>())) return std::cerr << "non-finite picture\n", 1;
  }
  if (!totals.empty()) {
    std::sort(totals.begin(), totals.end());
    std::printf("median total %.1f ms over %zu runs\n", totals[totals.size() / 2], totals.size());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) std::exit((std::cerr << a << " needs a value\n", 2));
      return argv[++i];
    };
    if (a == "--device") opt.device = c10::Device(next());
    else if (a == "--dtype") {
      const std::string d = next();
      opt.dtype = d == "f16" ? at::kHalf : d == "bf16" ? at::kBFloat16 : at::kFloat;
    } else if (a == "--size") opt.size = std::stoll(next());
    else if (a == "--steps") opt.steps = std::stoi(next());
    else if (a == "--runs") opt.runs = std::stoi(next());
    else if (a == "--cfg") opt.cfg = std::stod(next());
    else if (a == "--tiny") opt.tiny = true;
    else if (a == "--graph") opt.graph = true;
    else if (a == "--channels-last") opt.channels_last = true;
    else if (a == "--fused-qkv") opt.fused_qkv = true;
    else if (a == "--context-kv") opt.context_kv = true;
    else return std::cerr << "unknown option " << a << " (see the comment at the top of bench/gpu/generate_gpu.cpp)\n", 2;
  }
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
