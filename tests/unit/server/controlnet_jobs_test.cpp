// ControlNet units through the job server (orchestrator and HTTP, native and A1111), on the golden
// tiny SDXL model and its ControlNet: the server's image equals the one the pipeline gives for
// the same unit resolved directly, and the ControlNet is a component of the memory arbiter.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "memory/arbiter.h"
#include "server/batch.h"
#include "server/orchestrator_admission.h"
#include "http_test_support.h"
#include "test_paths.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace sdxl;

namespace {

const fs::path kModels = sdxl::test_paths::golden_models_dir();

bool have_goldens() {
  if (fs::exists(kModels / "controlnet-tiny") && fs::exists(kModels / "tiny-sdxl")) return true;
  WARN("SKIPPED: " << kModels.string() << " (tiny-sdxl, controlnet-tiny) is absent");
  return false;
}

// A white square on black, larger than the output (crop-and-resize brings it to 64x64).
at::Tensor square_picture() {
  at::Tensor px = at::zeros({96, 96, 3}, at::kByte);
  px.slice(0, 24, 72).slice(1, 24, 72).fill_(255);
  return px;
}

std::string base64_of(const at::Tensor& px) {
  auto png = image::encode_png(px);
  REQUIRE(png.ok());
  return server::base64_encode(png.value().data(), png.value().size());
}

void use_golden_model(server::OrchestratorOptions& o) {
  o.config.model_path = (kModels / "tiny-sdxl").string();
  o.config.controlnet_folders = {kModels.string()};
  o.demo_model = false;
}

// What the pipeline gives for the same unit resolved directly (the CLI's path).
at::Tensor reference_image(const std::string& prompt, std::int64_t seed, double scale) {
  auto reg = test::loaded_registry();
  const auto model = test_support::load_model(kModels / "tiny-sdxl", *reg);
  pipeline::ControlUnitRequest r;
  r.model = (kModels / "controlnet-tiny").string();
  r.image = square_picture();
  r.scale = scale;
  auto units = pipeline::resolve_control_units({r}, *model->unet, *reg, 64, 64);
  REQUIRE(units.ok());
  server::BatchShape shape;
  shape.width = shape.height = 64;
  shape.steps = 2;
  shape.sampler = "euler";
  shape.controls = units.value();
  server::BatchJob job;
  job.prompt = prompt;
  job.seed = seed;
  job.cfg = 5.0;
  auto out = server::run_batch(*model, *reg, shape, {job}, {});
  REQUIRE(out.ok());
  return out.value().images[0][0];
}

server::JobSpec control_job(const std::string& prompt, std::int64_t seed, double scale) {
  server::JobSpec s;
  s.prompt = prompt;
  s.width = s.height = 64;
  s.size_set = true;
  s.steps = 2;
  s.steps_set = true;
  s.seed = seed;
  s.sampler = "euler";
  s.controlnets = json::array({{{"model", "controlnet-tiny"}, {"image", base64_of(square_picture())}, {"weight", scale}}});
  return s;
}

at::Tensor job_pixels(const server::JobSnapshot& snap) {
  REQUIRE(snap.images.size() == 1);
  auto png = image::decode_png(snap.images[0].png.data(), snap.images[0].png.size(), "job image");
  REQUIRE(png.ok());
  return png.value().pixels;
}

server::JobSnapshot run_job(server::Orchestrator& o, server::JobSpec spec) {
  auto id = o.submit(std::move(spec));
  REQUIRE(id.ok());
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (;;) {
    auto s = o.snapshot(id.value());
    REQUIRE(s.has_value());
    if (server::is_terminal(s->state)) return *s;
    REQUIRE(std::chrono::steady_clock::now() < until);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

TEST_CASE("server controlnets: a job's unit gives the pipeline's image and is an arbiter component", "[server][controlnet]") {
  if (!have_goldens()) return;
  memory::Ledger ledger;
  memory::MemoryArbiter arbiter(ledger);
  server::OrchestratorOptions o;
  o.registry = test::loaded_registry();
  use_golden_model(o);
  o.arbiter = &arbiter;
  o.admit = server::arbiter_admission(arbiter);
  server::Orchestrator orch(o);
  const auto offered = orch.controlnets();  // the golden folder also holds other models' files
  CHECK(std::count(offered.begin(), offered.end(), "controlnet-tiny") == 1);
  CHECK(std::count(offered.begin(), offered.end(), "controlnet-tiny-cldm") == 1);
  CHECK(std::count(offered.begin(), offered.end(), "taesdxl-random") == 0);  // a folder of another class

  const auto first = run_job(orch, control_job("a red door", 7, 1.0));
  INFO(first.error);
  REQUIRE(first.state == server::JobState::done);
  const at::Tensor expected = reference_image("a red door", 7, 1.0);
  CHECK(at::equal(job_pixels(first), expected));
  CHECK_THAT(first.images[0].infotext, Catch::Contains("ControlNet 0: ") && Catch::Contains("controlnet-tiny"));

  // Without the unit the picture changes (the ControlNet really acted).
  server::JobSpec plain = control_job("a red door", 7, 1.0);
  plain.controlnets = json::array();
  const auto without = run_job(orch, plain);
  REQUIRE(without.state == server::JobState::done);
  CHECK_FALSE(at::equal(job_pixels(without), expected));

  // The ControlNet stays loaded for the next job: registered once, then found in place.
  auto stats = arbiter.stats_json();
  std::string name;
  for (const auto& [key, value] : stats["components"].items())
    if (key.rfind("controlnet:controlnet-tiny", 0) == 0) name = key;
  REQUIRE_FALSE(name.empty());
  const std::uint64_t hits_before = stats["components"][name]["hits"];
  const auto second = run_job(orch, control_job("a red door", 7, 1.0));
  REQUIRE(second.state == server::JobState::done);
  CHECK(at::equal(job_pixels(second), expected));
  stats = arbiter.stats_json();
  CHECK(stats["components"][name]["hits"].get<std::uint64_t>() == hits_before + 1);
  CHECK(stats["components"][name]["bytes"].get<std::uint64_t>() > 0);

  // Bad units are refused at submission.
  server::JobSpec outside = control_job("x", 1, 1.0);
  outside.controlnets[0]["model"] = "../models/controlnet-tiny";
  auto refused = orch.submit(outside);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == sdk::StatusCode::invalid_argument);
  server::JobSpec unknown = control_job("x", 1, 1.0);
  unknown.controlnets[0]["model"] = "no-such-controlnet";
  CHECK(orch.submit(unknown).status().code() == sdk::StatusCode::not_found);

  orch.shutdown(true);
  CHECK_FALSE(arbiter.stats_json()["components"].contains(name));  // unregistered with the server
}

TEST_CASE("server controlnets: an A1111 client's ControlNet unit over HTTP", "[server][controlnet][http]") {
  if (!have_goldens()) return;
  test::TestServer srv({}, use_golden_model);
  auto c = srv.client();
  auto [ls, list] = test::get_json(*c, "/controlnet/model_list");
  REQUIRE(ls == 200);
  CHECK(list["model_list"][0] == "controlnet-tiny");
  auto [ms, modules] = test::get_json(*c, "/controlnet/module_list");
  REQUIRE(ms == 200);
  CHECK(modules["module_list"][0] == "none");

  json request = {{"prompt", "a red door"}, {"width", 64}, {"height", 64}, {"steps", 2}, {"cfg_scale", 5},
                  {"seed", 7}, {"sampler_name", "Euler"}};
  request["alwayson_scripts"]["controlnet"]["args"] =
      json::array({{{"enabled", true}, {"input_image", base64_of(square_picture())}, {"module", "none"},
                    {"model", "controlnet-tiny [00ff00ff]"}, {"weight", 1.0}, {"resize_mode", "Crop and Resize"},
                    {"processor_res", 512}, {"threshold_a", -1}, {"threshold_b", -1}, {"guidance_start", 0.0},
                    {"guidance_end", 1.0}, {"control_mode", 0}, {"pixel_perfect", false}}});
  auto [s, out] = test::post_json(*c, "/sdapi/v1/txt2img", request);
  INFO(out.dump().substr(0, 500));
  REQUIRE(s == 200);
  REQUIRE(out["images"].size() == 1);
  CHECK(at::equal(test::decode_base64_png(out["images"][0]).pixels, reference_image("a red door", 7, 1.0)));

  request["alwayson_scripts"]["controlnet"]["args"][0]["model"] = "../tiny-sdxl";
  auto [bs, bad] = test::post_json(*c, "/sdapi/v1/txt2img", request);
  CHECK(bs == 400);
  CHECK_THAT(bad.dump(), Catch::Contains("controlnets[0].model"));
}
