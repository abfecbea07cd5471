#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <unistd.h>

#include "memory/activation_estimate.h"
#include "models/unet/unet_model.h"

using namespace sdxl;

namespace {

models::UNetConfig sdxl_like(std::vector<std::int64_t> depth) {
  models::UNetConfig c;
  c.block_out_channels = {320, 640, 1280};
  c.layers_per_block = 2;
  c.transformer_layers = depth;
  c.heads = {5, 10, 20};
  return c;
}

}  // namespace

TEST_CASE("activation count of a one-level UNet by hand", "[memory][activation]") {
  models::UNetConfig c;
  c.block_out_channels = {4};
  c.layers_per_block = 1;
  c.transformer_layers = {0};
  // 2x2 latents, one row: conv_in output (4 ch x 4 px) + one resnet output kept as skips,
  // the resnet's transient 7 x 4 ch x 4 px, no attention.
  const auto n = memory::count_unet_activations(c, 1, 2, 2);
  CHECK(n.skip_elements == 16 + 16);
  CHECK(n.transient_elements == 7 * 16);
  CHECK(n.score_elements == 0);
  // Skips and transients scale with the rows.
  const auto n3 = memory::count_unet_activations(c, 3, 2, 2);
  CHECK(n3.skip_elements == 3 * n.skip_elements);
  CHECK(n3.transient_elements == 3 * n.transient_elements);
}

TEST_CASE("SDXL activation estimate scales with batch and size and dtype and attention chunking bounds it", "[memory][activation]") {
  const auto cfg = sdxl_like({0, 2, 10});
  // 1024x1024 latents 128x128; level 1 (64x64 = 4096 tokens, 10 heads) holds the score matrix.
  const auto n = memory::count_unet_activations(cfg, 2, 128, 128);
  const double per_head = 4096.0 * 4096.0;
  CHECK(n.score_elements <= 2.0 * std::max(per_head, 64.0 * 1024 * 1024));
  CHECK(n.score_elements >= 2.0 * per_head);
  const auto fp32 = memory::estimate_sdxl_activation_bytes(1, 1024, 1024, at::kFloat);
  const auto fp16 = memory::estimate_sdxl_activation_bytes(1, 1024, 1024, at::kHalf);
  // Everything but the fixed 64 MiB allocator slack scales with the element size.
  const double slack = 64.0 * 1024 * 1024;
  CHECK(2.0 * (fp16 - slack) == Approx(fp32 - slack).epsilon(1e-6));
  // Batch 2 costs less than twice batch 1 (the score chunk does not grow), more than 1.5x.
  const auto two = memory::estimate_sdxl_activation_bytes(2, 1024, 1024, at::kFloat);
  CHECK(two < 2 * fp32);
  CHECK(two > fp32 + fp32 / 4);
  // Without CFG half the rows.
  CHECK(memory::estimate_sdxl_activation_bytes(1, 1024, 1024, at::kFloat, false) < fp32);
  // A quarter of the pixels: less than half the activations (scores shrink 16x, the rest 4x).
  CHECK(memory::count_unet_activations(cfg, 2, 64, 64).total() < n.total() / 2);
  CHECK(memory::estimate_sdxl_activation_bytes(1, 512, 512, at::kFloat) < fp32);
  // Sanity band for SDXL at 1024x1024 fp16 with CFG: between 256 MiB and 8 GiB.
  CHECK(fp16 > (256ull << 20));
  CHECK(fp16 < (8ull << 30));
}

// ---- Measurement (hidden; run by hand, see docs/memory.md) -------------------------------------

namespace {

std::uint64_t rss_bytes() {
  long pages = 0, resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<std::uint64_t>(resident) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

// Peak RSS over `base` while `fn` runs, sampled every 200 us by a second thread.
template <typename Fn>
std::uint64_t peak_rss_growth(std::uint64_t base, Fn fn) {
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> peak{base};
  std::thread sampler([&] {
    while (!done) {
      const auto r = rss_bytes();
      if (r > peak) peak = r;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  fn();
  done = true;
  sampler.join();
  return peak > base ? peak - base : 0;
}

}  // namespace

TEST_CASE("measure UNet activation peaks against the estimate", "[.measure]") {
  // SDXL_MEASURE=demo (the demo model's UNet) or sdxl_d1 (SDXL widths, attention depth 0/1/1).
  const char* which = std::getenv("SDXL_MEASURE");
  const std::string kind = which ? which : "demo";
  models::UNetConfig cfg;
  if (kind == "sdxl_d1") {
    cfg = sdxl_like({0, 1, 1});
  } else {
    cfg.block_out_channels = {32, 64, 64};
    cfg.transformer_layers = {0, 1, 2};
    cfg.heads = {2, 2, 4};
    cfg.cross_attention_dim = 64;
    cfg.addition_time_embed_dim = 8;
    cfg.projection_class_embeddings_input_dim = 80;
  }
  cfg.up_transformer_layers.assign(cfg.transformer_layers.rbegin(), cfg.transformer_layers.rend());
  cfg.up_heads.assign(cfg.heads.rbegin(), cfg.heads.rend());
  cfg.mid_heads = cfg.heads.back();
  cfg.mid_transformer_layers = cfg.transformer_layers.back() ? 1 : 0;
  auto shapes = models::UNet2DConditionModel::parameter_shapes(cfg);
  REQUIRE(shapes.ok());
  at::manual_seed(0);
  std::map<std::string, at::Tensor> weights;
  for (const auto& [k, s] : shapes.value()) weights[k] = at::randn(s) * 0.02;
  auto unet = models::UNet2DConditionModel::load(weights, cfg, "measure", at::kFloat, at::kCPU);
  REQUIRE(unet.ok());
  weights.clear();
  // Baseline: weights loaded, no forward yet. Sizes run in ascending order without a warm-up, so
  // each peak includes what the allocator kept from the smaller ones (it is reused, not added).
  const std::uint64_t base = rss_bytes();
  const char* sizes_env = std::getenv("SDXL_MEASURE_SIZES");  // "rows:pixels,..." ascending
  std::string sizes = sizes_env ? sizes_env : "2:256,2:512,4:512,2:768,2:1024";
  for (std::size_t pos = 0; pos < sizes.size();) {
    auto end = sizes.find(',', pos);
    if (end == std::string::npos) end = sizes.size();
    const std::string item = sizes.substr(pos, end - pos);
    pos = end + 1;
    const std::int64_t rows = std::stoll(item.substr(0, item.find(':')));
    const std::int64_t px = std::stoll(item.substr(item.find(':') + 1));
    const std::int64_t lat = px / 8;
    models::UNetInputs in;
    in.sample = at::randn({rows, cfg.in_channels, lat, lat});
    in.timestep = at::full({rows}, 500.0);
    in.encoder_hidden_states = at::randn({rows, 77, cfg.cross_attention_dim});
    in.text_embeds = at::randn({rows, cfg.projection_class_embeddings_input_dim - 6 * cfg.addition_time_embed_dim});
    in.time_ids = at::zeros({rows, 6});
    const std::uint64_t measured = peak_rss_growth(base, [&] { (void)unet.value()->forward(in); });
    const auto count = memory::count_unet_activations(cfg, rows, lat, lat);
    const double structural = count.total() * 4.0;
    std::printf("%s rows=%lld %lldpx: measured %.1f MiB, structural %.1f MiB (skips %.1f, transient %.1f, scores %.1f), "
                "ratio %.3f\n",
                kind.c_str(), static_cast<long long>(rows), static_cast<long long>(px), measured / 1048576.0,
                structural / 1048576.0, count.skip_elements * 4 / 1048576.0, count.transient_elements * 4 / 1048576.0,
                count.score_elements * 4 / 1048576.0, measured / structural);
  }
}
