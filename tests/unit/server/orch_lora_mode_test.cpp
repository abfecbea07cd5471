// [lora] mode in the job server: runtime mode never writes the weights and gives merge mode's
// images (to one level: the LoRA term is added in another order).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "image/png.h"
#include "demo_kohya_lora.h"
#include "orch_support.h"
#include "test_paths.h"

using namespace sdxl;

namespace {

const std::string kModule = test_support::kDemoLoraUnetModule + ".weight";

std::filesystem::path write_lora() {
  const auto dir = sdxl::test_paths::scratch_dir() / "sdxl_orch_lora_mode";
  test_support::write_demo_kohya_lora(dir / "style.safetensors", {5, 0.2, 4.0});
  return dir;
}

at::Tensor pixels(const server::JobSnapshot& s) {
  REQUIRE(s.images.size() == 1);
  auto png = image::decode_png(s.images[0].png.data(), s.images[0].png.size(), "job image");
  REQUIRE(png.ok());
  return png.value().pixels.to(at::kInt);
}

struct ModeRun {
  at::Tensor image;
  bool weights_written = false;  // while the LoRA was active
};

ModeRun run_in_mode(const std::string& mode, const std::filesystem::path& folder, const at::Tensor& original) {
  auto opt = orch_test::options();
  opt.config.lora_folders = {folder.string()};
  opt.config.lora_mode = mode;
  server::Orchestrator o(opt);
  auto spec = orch_test::tiny_job("a lighthouse", 9, 2);
  spec.loras = {{"style", 1.0}};
  auto id = o.submit(spec);
  REQUIRE(id.ok());
  const auto done = orch_test::wait_done(o, id.value());
  INFO(done.error);
  REQUIRE(done.state == server::JobState::done);
  ModeRun r;
  r.image = pixels(done);
  const at::Tensor& w = orch_test::shared_demo()->unet->parameters().at(kModule);
  r.weights_written = !at::equal(w, original);
  // A plain job: whatever the mode, the shared demo model is the plain model again afterwards.
  auto plain = o.submit(orch_test::tiny_job("plain", 1, 1));
  REQUIRE(plain.ok());
  REQUIRE(orch_test::wait_done(o, plain.value()).state == server::JobState::done);
  CHECK(at::equal(w, original));
  return r;
}

}  // namespace

TEST_CASE("orch: [lora] mode runtime leaves the weights alone and matches merge mode", "[orch][lora]") {
  const auto folder = write_lora();
  const at::Tensor original = orch_test::shared_demo()->unet->parameters().at(kModule).clone();

  const ModeRun runtime = run_in_mode("runtime", folder, original);
  const ModeRun merge = run_in_mode("merge", folder, original);
  CHECK_FALSE(runtime.weights_written);
  CHECK(merge.weights_written);
  CHECK((runtime.image - merge.image).abs().max().item<int>() <= 1);

  // The LoRA really acts: without it the picture differs.
  auto opt = orch_test::options();
  server::Orchestrator o(opt);
  auto id = o.submit(orch_test::tiny_job("a lighthouse", 9, 2));
  REQUIRE(id.ok());
  const auto plain = orch_test::wait_done(o, id.value());
  REQUIRE(plain.state == server::JobState::done);
  CHECK((pixels(plain) - merge.image).abs().max().item<int>() > 1);
}
