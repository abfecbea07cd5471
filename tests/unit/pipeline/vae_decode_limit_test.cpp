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
