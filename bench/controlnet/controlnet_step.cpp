// ControlNet step overhead: milliseconds per denoising step (one UNet call on a CFG batch) for the
// plain UNet, UNet + 1 ControlNet unit, and UNet + 2 units (two distinct models, residuals summed
// as diffusers' MultiControlNet does). Random weights; prints figures, not a test.
//
//   bench_controlnet_step                 tiny model (the golden model's shape), 256x256, batch 2
//   bench_controlnet_step --full          SDXL base UNet + SDXL ControlNet structure, 512x512, batch 2,
//                                         one step per configuration, no warm-up (float32: 10.3 GB UNet +
//                                         5 GB per ControlNet; --shared: one ControlNet model for both
//                                         units, same compute; --dtype bf16 halves the memory)
//   bench_controlnet_step --smoke         tiny, 64x64, one iteration (a quick run for ctest)
//   options: --iters N (3; 1 with --full)  --size PX  --batch B  --dtype f32|f16|bf16  --shared
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "util/peak_rss.h"
#include "models/controlnet/controlnet_model.h"
#include "models/unet/unet_model.h"

using namespace sdxl;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }


// The encoder-side fields shared by the UNet and its ControlNet.
nlohmann::json encoder_config(bool full) {
  if (full)
    return {{"block_out_channels", {320, 640, 1280}}, {"layers_per_block", 2},
            {"transformer_layers_per_block", {1, 2, 10}}, {"attention_head_dim", {5, 10, 20}},
            {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}},
            {"cross_attention_dim", 2048}, {"addition_time_embed_dim", 256},
            {"projection_class_embeddings_input_dim", 2816}, {"in_channels", 4}};
  return {{"block_out_channels", {32, 64, 64}}, {"layers_per_block", 2},
          {"transformer_layers_per_block", {1, 1, 2}}, {"attention_head_dim", {2, 2, 4}},
          {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}},
          {"cross_attention_dim", 64}, {"addition_time_embed_dim", 8},
          {"projection_class_embeddings_input_dim", 80}, {"in_channels", 4}};
}

// Weights ~ N(0, 1/fan_in), norm weights 1, biases 0: activations stay finite at any depth.
// Values are slices of one 16M-sample pool (at random offsets): drawing 3.8 B normals for the
// full-size models would cost more CPU time than the steps being measured.
std::map<std::string, at::Tensor> random_weights(const std::map<std::string, std::vector<std::int64_t>>& shapes,
                                                 c10::ScalarType dtype, std::uint64_t* params) {
  static const at::Tensor pool = at::randn({std::int64_t{1} << 24});
  std::map<std::string, at::Tensor> w;
  for (const auto& [name, shape] : shapes) {
    at::Tensor t;
    if (shape.size() == 1) {
      const bool norm_weight = name.find("norm") != std::string::npos && name.find(".weight") != std::string::npos;
      t = norm_weight ? at::ones(shape, dtype) : at::zeros(shape, dtype);
    } else {
      std::int64_t fan_in = 1;
      for (std::size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
      std::int64_t n = fan_in * shape[0];
      at::Tensor values;
      if (n <= pool.numel()) {
        const auto offset = at::randint(pool.numel() - n + 1, {1}, at::kLong).item<std::int64_t>();
        values = pool.narrow(0, offset, n);
      } else {
        values = pool.repeat({(n + pool.numel() - 1) / pool.numel()}).narrow(0, 0, n);
      }
      t = values.reshape(shape).mul(1.0 / std::sqrt(double(fan_in))).to(dtype);
    }
    *params += t.numel();
    w.emplace(name, std::move(t));
  }
  return w;
}

struct Options {
  bool full = false, smoke = false, shared = false;
  int iters = 3;
  std::int64_t size = 0, batch = 2;
  c10::ScalarType dtype = at::kFloat;
};

int fail(const sdk::Status& s) {
  std::cerr << s.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  bool iters_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--full") opt.full = true;
    else if (a == "--smoke") opt.smoke = true;
    else if (a == "--shared") opt.shared = true;
    else if (a == "--iters") opt.iters = std::stoi(next()), iters_given = true;
    else if (a == "--size") opt.size = std::stoll(next());
    else if (a == "--batch") opt.batch = std::stoll(next());
    else if (a == "--dtype") {
      const std::string d = next();
      opt.dtype = d == "f16" ? at::kHalf : d == "bf16" ? at::kBFloat16 : at::kFloat;
    } else {
      std::cerr << "usage: bench_controlnet_step [--full|--smoke] [--shared] [--iters N] [--size PX] [--batch B] "
                   "[--dtype f32|f16|bf16]\n";
      return 2;
    }
  }
  if (opt.smoke || (opt.full && !iters_given)) opt.iters = 1;
  const std::int64_t px = opt.size > 0 ? opt.size : opt.smoke ? 64 : opt.full ? 512 : 256;
  const std::int64_t b = opt.batch, lat = px / 8;
  at::manual_seed(0);

  // UNet: the encoder config plus its decoder half.
  nlohmann::json uj = encoder_config(opt.full);
  uj["up_block_types"] = {"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"};
  uj["out_channels"] = 4;
  auto ucfg = models::UNetConfig::from_diffusers_json(uj, "bench UNet config");
  if (!ucfg.ok()) return fail(ucfg.status());
  auto ushapes = models::UNet2DConditionModel::parameter_shapes(*ucfg);
  if (!ushapes.ok()) return fail(ushapes.status());
  std::uint64_t unet_params = 0, cn_params = 0;
  auto t0 = Clock::now();
  auto unet = [&] {
    auto w = random_weights(*ushapes, opt.dtype, &unet_params);
    return models::UNet2DConditionModel::load(w, *ucfg, "random UNet", opt.dtype, at::kCPU);
  }();
  if (!unet.ok()) return fail(unet.status());

  nlohmann::json cj = encoder_config(opt.full);
  cj["_class_name"] = "ControlNetModel";
  cj["conditioning_embedding_out_channels"] = {16, 32, 96, 256};
  auto ccfg = models::ControlNetConfig::from_diffusers_json(cj, "bench ControlNet config");
  if (!ccfg.ok()) return fail(ccfg.status());
  auto cshapes = models::ControlNetModel::parameter_shapes(*ccfg);
  if (!cshapes.ok()) return fail(cshapes.status());
  std::vector<std::shared_ptr<models::ControlNetModel>> nets;
  for (int k = 0; k < (opt.shared ? 1 : 2); ++k) {
    std::uint64_t n = 0;
    auto w = random_weights(*cshapes, opt.dtype, &n);
    auto cn = models::ControlNetModel::from_weights(w, *ccfg, "random ControlNet", opt.dtype, at::kCPU);
    if (!cn.ok()) return fail(cn.status());
    if (auto st = (*cn)->check_compatible(*ucfg); !st.ok()) return fail(st);
    nets.push_back(cn.value());
    cn_params = n;
  }
  if (opt.shared) nets.push_back(nets.front());
  std::printf("%s: UNet %.3f B params, ControlNet %.3f B params (x%d models), built in %.1f s; %lldx%lld, batch %lld, "
              "%s, %d threads\n",
              opt.full ? "SDXL base structure" : "tiny structure", unet_params / 1e9, cn_params / 1e9,
              opt.shared ? 1 : 2, ms_since(t0) / 1e3, (long long)px, (long long)px, (long long)b,
              c10::toString(opt.dtype), at::get_num_threads());

  const auto o = at::TensorOptions().dtype(opt.dtype);
  models::UNetInputs in;
  in.sample = at::randn({b, 4, lat, lat}, o);
  in.timestep = at::full({b}, 500.0, at::kFloat);
  in.encoder_hidden_states = at::randn({b, 77, ucfg->cross_attention_dim}, o);
  const std::int64_t pooled = ucfg->projection_class_embeddings_input_dim - 6 * ucfg->addition_time_embed_dim;
  in.text_embeds = at::randn({b, pooled}, o);
  in.time_ids = at::tensor({double(px), double(px), 0.0, 0.0, double(px), double(px)}, at::kFloat).repeat({b, 1});
  const at::Tensor picture = at::rand({b, 3, px, px}, o);

  // One denoising step with `units` ControlNet units: residuals of every unit summed, then the UNet.
  auto step = [&](int units) -> sdk::Status {
    models::UNetInputs u = in;
    for (int k = 0; k < units; ++k) {
      models::ControlNetInputs ci{in.sample, in.timestep, in.encoder_hidden_states, in.text_embeds, in.time_ids,
                                  picture, k == 0 ? 1.0 : 0.5};
      auto r = nets[k]->forward(ci);
      if (!r.ok()) return r.status();
      if (u.down_residuals.empty()) {
        u.down_residuals = r->down;
        u.mid_residual = r->mid;
      } else {
        for (std::size_t i = 0; i < r->down.size(); ++i) u.down_residuals[i] = u.down_residuals[i] + r->down[i];
        u.mid_residual = u.mid_residual + r->mid;
      }
    }
    auto eps = (*unet)->forward(u);
    return eps.ok() ? sdk::Status::Ok() : eps.status();
  };

  double best[3] = {0, 0, 0}, cpu_best[3] = {0, 0, 0};
  for (int units = 0; units <= 2; ++units) {
    std::vector<double> wall, cpu;
    // i = -1: warm-up, not counted (none in --smoke and --full: one step each).
    for (int i = opt.smoke || opt.full ? 0 : -1; i < opt.iters; ++i) {
      const auto t = Clock::now();
      const std::clock_t c = std::clock();
      auto st = step(units);
      if (!st.ok()) return fail(st);
      if (i < 0) continue;
      wall.push_back(ms_since(t));
      cpu.push_back(1e3 * double(std::clock() - c) / CLOCKS_PER_SEC);
    }
    best[units] = *std::min_element(wall.begin(), wall.end());
    cpu_best[units] = *std::min_element(cpu.begin(), cpu.end());
    std::printf("  UNet + %d ControlNet unit%s: %9.1f ms wall (best of %zu), %9.1f ms CPU", units, units == 1 ? " " : "s",
                best[units], wall.size(), cpu_best[units]);
    if (units > 0)
      std::printf("   overhead %+5.1f %% wall, %+5.1f %% CPU", 100.0 * (best[units] / best[0] - 1.0),
                  100.0 * (cpu_best[units] / cpu_best[0] - 1.0));
    std::printf("\n");
  }
  std::printf("peak RSS %.0f MiB\n", util::peak_rss_mib());
  return 0;
}
