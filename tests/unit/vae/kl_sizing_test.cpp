// The kl VAE's sizing extension (sdk/vae_sizing.h): named the weights before load(), a variant
// estimates a decode for their architecture, the same figure it gives once they are loaded. The
// tiny golden VAE's architecture is far from SDXL's, which an unsized variant assumes.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "kl_vae.h"
#include "sdxl/sdk/vae_sizing.h"
#include "vae_test_support.h"

using namespace vae_test;
using sdxl::vae_kl::KlVae;

namespace {

sdxl::sdk::VaeSizing* sizing_of(KlVae& vae) {
  return static_cast<sdxl::sdk::VaeSizing*>(vae.extension(SDXL_VAE_SIZING_EXTENSION));
}

sdxl::sdk::Options strips(std::int64_t height, std::int64_t width) {
  sdxl::sdk::Options o;
  o.set("tiling", true);
  o.set("tile_height", height);
  o.set("tile_width", width);
  o.set("tile_overlap", 16);
  return o;
}

}  // namespace

TEST_CASE("kl sizing: before load, the estimate is the loaded model's", "[vae][kl][memory]") {
  if (!have_goldens()) {
    WARN("goldens not found; skipping");
    return;
  }
  const auto w = load_folder(models_dir() / "tiny-sdxl" / "vae");
  const std::int64_t shape[] = {1, 4, 128, 128};
  for (const auto& options : {sdxl::sdk::Options{}, strips(72, 128)}) {
    KlVae sized(options, sdxl::sdk::HostServices{});
    KlVae loaded(options, sdxl::sdk::HostServices{});
    const auto unsized = sized.estimate_decode_bytes(shape);  // SDXL's architecture
    REQUIRE(sizing_of(sized) != nullptr);
    REQUIRE(sizing_of(sized)->size_for(w.set()).ok());
    REQUIRE(loaded.load(w.set()).ok());
    const auto want = loaded.estimate_decode_bytes(shape);
    CHECK(sized.estimate_decode_bytes(shape) == want);
    // A fraction of SDXL's: the tiny VAE has 32-64 channels where SDXL's has 128-512 (the mid
    // block's attention scores, which do not depend on channels, keep it above a quarter).
    INFO("unsized " << unsized << " sized " << want);
    CHECK(want < unsized / 3);
    // Loading the sized one changes nothing.
    REQUIRE(sized.load(w.set()).ok());
    CHECK(sized.estimate_decode_bytes(shape) == want);
  }
}

TEST_CASE("kl sizing: the architecture comes from the tensors when there is no config.json", "[vae][kl][memory]") {
  if (!have_goldens()) {
    WARN("goldens not found; skipping");
    return;
  }
  auto w = load_folder(models_dir() / "tiny-sdxl" / "vae");
  w.config.clear();
  const std::int64_t shape[] = {1, 4, 64, 64};
  KlVae sized({}, sdxl::sdk::HostServices{}), loaded({}, sdxl::sdk::HostServices{});
  REQUIRE(sizing_of(sized)->size_for(w.set()).ok());
  REQUIRE(loaded.load(w.set()).ok());
  CHECK(sized.estimate_decode_bytes(shape) == loaded.estimate_decode_bytes(shape));
}

TEST_CASE("kl sizing: weights load() would refuse are refused, naming them", "[vae][kl][memory]") {
  KlVae vae({}, sdxl::sdk::HostServices{});
  auto* sizing = sizing_of(vae);
  REQUIRE(sizing != nullptr);
  const std::int64_t shape[] = {1, 4, 64, 64};
  const auto unsized = vae.estimate_decode_bytes(shape);

  auto none = sizing->size_for(sdxl::sdk::WeightSet{"nothing.safetensors", nullptr, ""});
  CHECK_FALSE(none.ok());
  CHECK_THAT(none.message(), Catch::Contains("nothing.safetensors"));

  const std::map<std::string, at::Tensor> empty;
  auto bad_config = sizing->size_for(sdxl::sdk::WeightSet{"my-vae", &empty, R"({"block_out_channels": "wide"})"});
  CHECK_FALSE(bad_config.ok());
  CHECK_THAT(bad_config.message(), Catch::Contains("my-vae/config.json") && Catch::Contains("block_out_channels"));

  auto no_decoder = sizing->size_for(sdxl::sdk::WeightSet{"other.safetensors", &empty, ""});
  CHECK_FALSE(no_decoder.ok());
  CHECK_THAT(no_decoder.message(), Catch::Contains("other.safetensors"));
  // A refused sizing leaves the estimate as it was.
  CHECK(vae.estimate_decode_bytes(shape) == unsized);
}

TEST_CASE("kl sizing: other extension ids get nothing", "[vae][kl]") {
  KlVae vae({}, sdxl::sdk::HostServices{});
  CHECK(vae.extension("org.sdxl.vae.sizing.v2") == nullptr);
  CHECK(vae.extension("org.sdxl.lora.low_rank.v1") == nullptr);
  CHECK(vae.extension(nullptr) == nullptr);
}
