// [memory] vae_decode caps one decode on the model's device: above the cap the choice tiles with
// the largest tile whose estimate fits under it, below it nothing changes, and a cap under the
// smallest tile refuses the decode (on the CPU there is no host to fall back to).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "demo_model_fixture.h"
#include "pipeline/vae_choice.h"

using namespace sdxl;

namespace {

// Restores "no cap" however the test ends.
struct LimitGuard {
  ~LimitGuard() { pipeline::set_vae_decode_limit(0); }
};

// What a variant with these options needs for `shape` once it holds the model's VAE weights
// (loaded here, an independent path from the choice's sizing before load).
std::uint64_t loaded_estimate(const pipeline::SdxlModel& model, const plugins::PluginRegistry& reg,
                              const sdk::Options& options, at::IntArrayRef shape) {
  const plugins::Placement here{model.device, model.dtype};
  auto v = reg.create_vae_variant(model.vae_feature, &options, &here);
  REQUIRE(v.ok());
  REQUIRE(v.value()->load(sdk::WeightSet{model.vae_source, &model.vae_weights, model.vae_config_json}).ok());
  return v.value()->estimate_decode_bytes(shape);
}

}  // namespace

TEST_CASE("a VAE decode cap makes the choice tile under it", "[pipeline][vae][memory]") {
  test_support::DemoModel demo("sdxl_vae_decode_limit_test");
  auto& model = *demo.model;
  const auto& reg = *demo.registry;
  LimitGuard guard;
  const std::int64_t shape[] = {1, 4, 96, 96};  // the 64, 48 and 32 tiles split it
  const std::uint64_t untiled = model.vae->estimate_decode_bytes(shape);

  pipeline::set_vae_decode_limit(0);  // no cap, no CPU budget: untiled
  auto free_choice = pipeline::choose_vae_for_decode(model, reg, shape);
  REQUIRE(free_choice.ok());
  CHECK(free_choice.value().owned == nullptr);

  pipeline::set_vae_decode_limit(untiled + 1);  // above the untiled estimate: untiled
  auto roomy = pipeline::choose_vae_for_decode(model, reg, shape);
  REQUIRE(roomy.ok());
  CHECK(roomy.value().owned == nullptr);

  const std::uint64_t cap = untiled * 3 / 4;
  pipeline::set_vae_decode_limit(cap);
  auto capped = pipeline::choose_vae_for_decode(model, reg, shape);
  INFO(capped.status().message());
  REQUIRE(capped.ok());
  REQUIRE(capped.value().owned != nullptr);
  CHECK(capped.value().owned->estimate_decode_bytes(shape) <= cap);
  CHECK_THAT(capped.value().reason, Catch::Contains("tiled decode") && Catch::Contains("[memory] vae_decode"));
  auto picture = capped.value().vae->decode(at::randn({1, 4, 96, 96}), nullptr);
  REQUIRE(picture.ok());
  const std::int64_t side = 96 * model.vae->info().downscale;
  CHECK(picture.value().sizes() == at::IntArrayRef({1, 3, side, side}));

  pipeline::set_vae_decode_limit(1024);  // below any tile
  auto refused = pipeline::choose_vae_for_decode(model, reg, shape);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == sdk::StatusCode::out_of_memory);
}

TEST_CASE("a VAE decode cap picks the cheapest tiles fitted to the picture", "[pipeline][vae][memory]") {
  test_support::DemoModel demo("sdxl_vae_decode_limit_test");
  auto& model = *demo.model;
  const auto& reg = *demo.registry;
  LimitGuard guard;
  const std::int64_t shape[] = {1, 4, 128, 128};
  auto estimate = [&](std::int64_t height, std::int64_t width, std::int64_t overlap) {
    sdk::Options o;
    o.set("tiling", true);
    o.set("tile_height", height);
    o.set("tile_width", width);
    o.set("tile_overlap", overlap);
    return loaded_estimate(model, reg, o, shape);
  };
  // Two full-width strips of 72 rows (overlap 16) decode 1.125 times the picture; the old fixed
  // 96-pixel squares needed about as much memory per tile and decoded 2.25 times it.
  const std::uint64_t strips = estimate(72, 128, 16);
  REQUIRE(strips < model.vae->estimate_decode_bytes(shape));
  pipeline::set_vae_decode_limit(strips);
  auto two = pipeline::choose_vae_for_decode(model, reg, shape);
  INFO(two.status().message());
  REQUIRE(two.ok());
  REQUIRE(two.value().owned != nullptr);
  CHECK_THAT(two.value().reason, Catch::Contains("2 tiles of 72x128 latent px"));
  CHECK(two.value().owned->estimate_decode_bytes(shape) <= strips);

  // It comes loaded with the model's VAE weights (a small latent decodes in one tile).
  auto small = two.value().vae->decode(at::randn({1, 4, 16, 16}) * 0.5, nullptr);
  REQUIRE(small.ok());
  CHECK(small.value().sizes() == at::IntArrayRef({1, 3, 128, 128}));

  // A little less room: more, smaller tiles, still under the cap.
  pipeline::set_vae_decode_limit(strips - 1);
  auto more = pipeline::choose_vae_for_decode(model, reg, shape);
  REQUIRE(more.ok());
  REQUIRE(more.value().owned != nullptr);
  CHECK_THAT(more.value().reason, !Catch::Contains("2 tiles of"));
  CHECK(more.value().owned->estimate_decode_bytes(shape) <= strips - 1);
}

TEST_CASE("fitted tiles stay within the VAE's tile options on huge pictures", "[pipeline][vae][memory]") {
  test_support::DemoModel demo("sdxl_vae_decode_limit_test");
  auto& model = *demo.model;
  LimitGuard guard;
  // A 2048-pixel-wide latent (16384 image pixels): one tile per row would be wider than the kl
  // plugin's largest tile option (1024), so such layouts must not be offered.
  const std::int64_t shape[] = {1, 4, 64, 2048};
  pipeline::set_vae_decode_limit(model.vae->estimate_decode_bytes(shape) / 4);
  auto choice = pipeline::choose_vae_for_decode(model, *demo.registry, shape);
  INFO(choice.status().message());
  REQUIRE(choice.ok());
  REQUIRE(choice.value().owned != nullptr);
  CHECK_THAT(choice.value().reason, Catch::Contains("tiles of"));
}
