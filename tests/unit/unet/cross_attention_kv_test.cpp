// Cross-attention keys and values computed once per job (models/unet/cross_attention_kv.h): a
// forward given them computes exactly what a forward that projects the context itself computes;
// they cover every transformer block; they are refused for another model, another context or a
// context modified since; and the memory estimate counts them (checked against the parameter
// shapes: one to_k and one to_v per cross-attention).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <memory>

#include "bench/random_sdxl.h"
#include "memory/activation_estimate.h"
#include "models/unet/unet_model.h"
#include "tiny_unet.h"

using namespace sdxl;

namespace {

using test_unet::random_unet;
using test_unet::tiny_config;
models::UNetInputs inputs(const models::UNetConfig& c, std::int64_t rows) { return test_unet::random_inputs(c, rows); }

// Cross-attentions of the model, and the sum of their widths, from the parameter names alone.
std::pair<std::size_t, std::int64_t> cross_attentions(const models::UNetConfig& c) {
  auto shapes = models::UNet2DConditionModel::parameter_shapes(c);
  REQUIRE(shapes.ok());
  std::size_t n = 0;
  std::int64_t width = 0;
  const std::string suffix = ".attn2.to_k.weight";
  for (const auto& [k, s] : *shapes)
    if (k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0) {
      ++n;
      width += s.at(0);  // [dim, context_dim]
    }
  return {n, width};
}

}  // namespace

TEST_CASE("context k/v: a forward with them equals the forward without, for every block", "[unet]") {
  const auto cfg = tiny_config();
  const auto unet = random_unet(cfg, 1);
  auto in = inputs(cfg, 2);
  auto plain = unet->forward(in);
  REQUIRE(plain.ok());
  auto kv = unet->cross_attention_kv(in.encoder_hidden_states);
  REQUIRE(kv.ok());
  const auto [layers, width] = cross_attentions(cfg);
  REQUIRE(layers > 0);
  CHECK(kv.value()->layers() == layers);
  CHECK(kv.value()->bytes() == static_cast<std::uint64_t>(2 * 2 * 77 * width * 4));  // k and v, 2 rows, float32
  in.context_kv = kv.value();
  auto cached = unet->forward(in);
  REQUIRE(cached.ok());
  CHECK(at::equal(cached.value(), plain.value()));  // the same products, only earlier
  // The forward really reads them: with every value zeroed in place, each cross-attention adds
  // only its output bias, and the result changes.
  for (const auto& [layer, pair] : kv.value()->pairs()) pair.second.zero_();
  auto zeroed = unet->forward(in);
  REQUIRE(zeroed.ok());
  CHECK_FALSE(at::allclose(zeroed.value(), plain.value(), 1e-3, 1e-3));
}

TEST_CASE("context k/v: refused for another model, another context, or a context changed since", "[unet]") {
  const auto cfg = tiny_config();
  const auto unet = random_unet(cfg, 1);
  const auto twin = random_unet(cfg, 1);  // same weights, another model
  auto in = inputs(cfg, 2);
  auto kv = unet->cross_attention_kv(in.encoder_hidden_states);
  REQUIRE(kv.ok());
  in.context_kv = kv.value();
  auto elsewhere = twin->forward(in);
  REQUIRE_FALSE(elsewhere.ok());
  CHECK(elsewhere.status().message().find("context_kv") != std::string::npos);

  auto copy = in;
  copy.encoder_hidden_states = in.encoder_hidden_states.clone();  // equal values, another tensor
  CHECK_FALSE(unet->forward(copy).ok());

  in.encoder_hidden_states.mul_(1.0);  // changed in place: the version counter moves
  auto stale = unet->forward(in);
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.status().message().find("modified") != std::string::npos);

  CHECK_FALSE(unet->cross_attention_kv(at::randn({2, 77, cfg.cross_attention_dim + 1})).ok());
}

TEST_CASE("context k/v: the activation estimate counts them", "[unet]") {
  const auto cfg = tiny_config();
  const auto [layers, width] = cross_attentions(cfg);
  for (std::int64_t rows : {1, 4}) {
    const auto count = memory::count_unet_activations(cfg, rows, 16, 16);
    CHECK(count.context_kv_elements == Approx(2.0 * 77 * static_cast<double>(width) * rows));
  }
  // SDXL base: 10 blocks of 640 and 60 of 1280 channels.
  auto sdxl = models::UNetConfig::from_diffusers_json(bench::sdxl_base_unet_config(), "SDXL base");
  REQUIRE(sdxl.ok());
  const auto [sdxl_layers, sdxl_width] = cross_attentions(*sdxl);
  CHECK(sdxl_layers == 70u);
  CHECK(memory::count_unet_activations(*sdxl, 2, 128, 128).context_kv_elements ==
        Approx(2.0 * 77 * static_cast<double>(sdxl_width) * 2));
}
