// The VAE golden handlers (host/cli/golden_vae.cpp, compiled into this test by tests/vae.cmake)
// end to end: the built plugin libraries loaded through the registry, the case stripped to its
// allowed inputs, replayed and compared - for the diffusers folder, the float16 single file,
// and TAESD-XL. This is what `sdxl golden check` does for these cases.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "golden/case_files.h"
#include "golden/runner.h"
#include "plugins/registry.h"
#include "vae_test_support.h"
#include "test_paths.h"

using namespace vae_test;
namespace golden = sdxl::golden;

namespace {

std::unique_ptr<sdxl::plugins::PluginRegistry> vae_registry() {
  auto reg = std::make_unique<sdxl::plugins::PluginRegistry>();
  for (const char* lib : {"libsdxl_vae_kl.so", "libsdxl_vae_taesd.so"}) {
    const auto path = sdxl::test_paths::plugin_dir() / lib;
    INFO(path.string() << ": " << (reg->rejected().empty() ? "" : reg->rejected().back().reason));
    REQUIRE(fs::exists(path));
    REQUIRE(reg->load_library(path));
  }
  return reg;
}

golden::CaseOutcome run(const std::string& case_file, golden::GoldenOptions opts) {
  auto c = golden::load_case(models_dir() / "cases" / case_file);
  REQUIRE(c.ok());
  const auto* h = golden::find_handler(c.value());
  REQUIRE(h != nullptr);
  return golden::run_case(c.value(), *h, opts, /*keep_outputs=*/true);
}

}  // namespace

TEST_CASE("vae golden case replays through the kl plugin from the diffusers folder and the fp16 single file",
          "[vae][golden][plugin]") {
  if (!have_goldens()) {
    WARN("goldens not found; skipping");
    return;
  }
  auto reg = vae_registry();
  golden::GoldenOptions opts;
  opts.registry = reg.get();
  opts.model = (models_dir() / "tiny-sdxl").string();
  auto folder = run("vae.safetensors", opts);
  INFO("diffusers folder: " << folder.summary);
  CHECK(folder.handler == "vae");
  CHECK(folder.passed);
  // decode0, decode1 (image, image_u8) and encode0 (scaled_mean, mean, std, logvar).
  CHECK(folder.produced.size() == 8);

  opts.model = (models_dir() / "tiny-sdxl-fp16.safetensors").string();
  opts.model_config = (models_dir() / "tiny-sdxl").string();
  auto single = run("vae.safetensors", opts);
  INFO("fp16 single file: " << single.summary);
  CHECK(single.passed);

  golden::GoldenOptions no_model;
  no_model.registry = reg.get();
  auto missing = run("vae.safetensors", no_model);
  CHECK_FALSE(missing.passed);
  CHECK_THAT(missing.summary, Catch::Contains("--model"));
}

TEST_CASE("taesd golden case replays through the taesd plugin", "[vae][golden][plugin]") {
  if (!fs::exists(models_dir() / "cases" / "taesd.safetensors")) {
    WARN("goldens not found; skipping");
    return;
  }
  auto reg = vae_registry();
  golden::GoldenOptions opts;
  opts.registry = reg.get();  // --taesd defaults to taesdxl-random/ beside the case folder
  auto r = run("taesd.safetensors", opts);
  INFO(r.summary);
  CHECK(r.handler == "taesd");
  CHECK(r.passed);
  CHECK(r.produced.size() == 3);
}
