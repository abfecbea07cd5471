// ControlNet units without networks: step activity (diffusers' controlnet_keep), parsing of
// --control / TOML units, preparation of pictures and the errors that must come before any step.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "image/png.h"
#include "pipeline/control_units.h"
#include "pipeline/job_settings.h"
#include "plugins/registry.h"
#include "test_paths.h"

using namespace sdxl;
namespace fs = std::filesystem;

namespace {

std::vector<std::int64_t> active_calls(double start, double end, std::int64_t n) {
  pipeline::ControlUnit u;
  u.guidance_start = start;
  u.guidance_end = end;
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < n; ++i)
    if (pipeline::control_unit_active(u, i, n)) out.push_back(i);
  return out;
}

fs::path temp_dir(const std::string& name) {
  const fs::path d = sdxl::test_paths::scratch_dir() / ("sdxl_controlunits_" + name);
  fs::create_directories(d);
  return d;
}

// Black picture with a white box rows/cols [a, b).
at::Tensor box_picture(std::int64_t w, std::int64_t h, std::int64_t a, std::int64_t b) {
  at::Tensor p = at::zeros({h, w, 3}, at::kByte);
  p.slice(0, a, b).slice(1, a, b).fill_(255);
  return p;
}

}  // namespace

TEST_CASE("control units: guidance start/end decide the active steps", "[controlunits]") {
  // Active at call i of n unless i/n < start or (i+1)/n > end.
  CHECK(active_calls(0.0, 1.0, 4) == std::vector<std::int64_t>{0, 1, 2, 3});
  CHECK(active_calls(0.2, 0.7, 10) == std::vector<std::int64_t>{2, 3, 4, 5, 6});
  CHECK(active_calls(0.5, 1.0, 4) == std::vector<std::int64_t>{2, 3});
  CHECK(active_calls(0.0, 0.5, 4) == std::vector<std::int64_t>{0, 1});
  CHECK(active_calls(0.0, 0.6, 4) == std::vector<std::int64_t>{0, 1});  // call 2 would end at 0.75
  CHECK(active_calls(0.5, 0.5, 4).empty());
  CHECK(active_calls(0.3, 1.0, 3) == std::vector<std::int64_t>{1, 2});  // 1/3 >= 0.3
}

TEST_CASE("control units: --control arguments", "[controlunits]") {
  auto r = pipeline::parse_control_argument(
      "model=/cn/canny.safetensors,image=edges.png,type=canny,scale=0.8,start=0.1,end=0.9,resize=just_resize");
  REQUIRE(r.ok());
  CHECK(r.value().model == "/cn/canny.safetensors");
  CHECK(r.value().image_path == "edges.png");
  CHECK(r.value().type == "canny");
  CHECK(*r.value().scale == 0.8);
  CHECK(*r.value().guidance_start == 0.1);
  CHECK(*r.value().guidance_end == 0.9);
  CHECK(r.value().resize_mode == "just_resize");
  auto minimal = pipeline::parse_control_argument("model=m,image=i.png");
  REQUIRE(minimal.ok());
  CHECK_FALSE(minimal.value().scale.has_value());
  CHECK(minimal.value().resize_mode == "crop_and_resize");

  auto no_image = pipeline::parse_control_argument("model=m");
  REQUIRE_FALSE(no_image.ok());
  CHECK_THAT(no_image.status().message(), Catch::Contains("image="));
  auto unknown = pipeline::parse_control_argument("model=m,image=i.png,strength=2");
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.status().message(), Catch::Contains("strength"));
  auto not_number = pipeline::parse_control_argument("model=m,image=i.png,scale=big");
  REQUIRE_FALSE(not_number.ok());
  CHECK_THAT(not_number.status().message(), Catch::Contains("big"));
  CHECK_FALSE(pipeline::parse_control_argument("model=m,image").ok());
}

TEST_CASE("control units: request validation", "[controlunits]") {
  pipeline::ControlUnitRequest r;
  r.model = "m";
  r.image_path = "i.png";
  CHECK(pipeline::validate_control_request(r, 0).ok());
  auto bad = [&](auto edit, const std::string& fragment) {
    pipeline::ControlUnitRequest c = r;
    edit(c);
    auto st = pipeline::validate_control_request(c, 3);
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(st.message(), Catch::Contains("control unit 3") && Catch::Contains(fragment));
  };
  bad([](auto& c) { c.guidance_start = 0.8, c.guidance_end = 0.2; }, "guidance start");
  bad([](auto& c) { c.guidance_end = 1.5; }, "guidance end");
  bad([](auto& c) { c.scale = -1.0; }, "scale");
  bad([](auto& c) { c.resize_mode = "zoom"; }, "zoom");
  bad([](auto& c) { c.model.clear(); }, "model");
  bad([](auto& c) { c.image_path.clear(); }, "image");
}

TEST_CASE("control units: TOML lists in job files and the configuration", "[controlunits]") {
  const fs::path dir = temp_dir("toml");
  {
    std::ofstream job(dir / "job.toml");
    job << "prompt = \"a house\"\n"
        << "controlnets = [\n"
        << "  { model = \"/cn/a\", image = \"a.png\", type = \"canny\", scale = 0.8, options = { low_threshold = 50 } },\n"
        << "  { model = \"/cn/b\", image = \"b.png\", start = 0.25, end = 0.75, resize = \"resize_and_fill\" },\n"
        << "]\n";
  }
  pipeline::JobSettings s;
  REQUIRE(pipeline::apply_job_file(s, (dir / "job.toml").string()).ok());
  CHECK(s.prompt == "a house");
  REQUIRE(s.controls.size() == 2);
  CHECK(s.controls[0].type == "canny");
  CHECK(*s.controls[0].scale == 0.8);
  CHECK(s.controls[0].type_options.get_int("low_threshold") == 50);
  CHECK(*s.controls[1].guidance_start == 0.25);
  CHECK(*s.controls[1].guidance_end == 0.75);
  CHECK(s.controls[1].resize_mode == "resize_and_fill");

  {
    std::ofstream bad(dir / "bad.toml");
    bad << "controlnets = [\n  { model = \"/cn/a\", image = \"a.png\", scale = \"high\" },\n]\n";
  }
  pipeline::JobSettings t;
  auto st = pipeline::apply_job_file(t, (dir / "bad.toml").string());
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(st.message(), Catch::Contains("bad.toml:2:") && Catch::Contains("scale"));
  {
    std::ofstream unknown(dir / "unknown.toml");
    unknown << "controlnets = [{ model = \"/cn/a\", image = \"a.png\", colour = 1 }]\n";
  }
  st = pipeline::apply_job_file(t, (dir / "unknown.toml").string());
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(st.message(), Catch::Contains("colour"));

  {
    std::ofstream cfg(dir / "sdxl.toml");
    cfg << "[generate]\nsteps = 20\ncontrolnets = [{ model = \"/cn/a\", image = \"a.png\", scale = 0.5 }]\n";
  }
  auto c = config::load_config((dir / "sdxl.toml").string());
  REQUIRE(c.ok());
  auto units = pipeline::controls_from_config(c.value());
  REQUIRE(units.ok());
  REQUIRE(units.value().size() == 1);
  CHECK(*units.value()[0].scale == 0.5);
  {
    std::ofstream cfg(dir / "wrong.toml");
    cfg << "[generate]\ncontrolnets = \"canny\"\n";
  }
  auto wrong = config::load_config((dir / "wrong.toml").string());
  REQUIRE_FALSE(wrong.ok());
  CHECK_THAT(wrong.status().message(), Catch::Contains("controlnets"));
}

TEST_CASE("control units: preparation fits pictures and reports bad input by unit", "[controlunits]") {
  const fs::path dir = temp_dir("prepare");
  const fs::path model_dir = dir / "my-controlnet";  // exists; nothing is loaded in this phase
  fs::create_directories(model_dir);
  REQUIRE(image::write_png((dir / "wide.png").string(), box_picture(64, 32, 8, 24)).ok());
  plugins::PluginRegistry empty;

  pipeline::ControlUnitRequest r;
  r.model = model_dir.string();
  r.image_path = (dir / "wide.png").string();
  auto p = pipeline::prepare_control_units({r}, empty, 32, 32);
  REQUIRE(p.ok());
  REQUIRE(p.value().size() == 1);
  CHECK(p.value()[0].picture.sizes() == at::IntArrayRef({32, 32, 3}));
  CHECK(p.value()[0].type == "none");
  CHECK(p.value()[0].scale == 1.0);  // no type: the plain defaults
  CHECK(p.value()[0].guidance_end == 1.0);
  // Crop and resize: 64x32 -> 32x32 keeps columns 16..47: the box (cols 8..23) now at cols 0..7.
  CHECK(at::equal(p.value()[0].picture, box_picture(64, 32, 8, 24).slice(1, 16, 48)));
  at::Tensor t = pipeline::control_image_tensor(p.value()[0].picture);
  CHECK(t.sizes() == at::IntArrayRef({1, 3, 32, 32}));
  CHECK(t.max().item<float>() == 1.0f);

  // A decoded picture instead of a file, and a bare model name found in a folder.
  pipeline::ControlUnitRequest named = r;
  named.model = "my-controlnet";
  named.image_path.clear();
  named.image = box_picture(32, 32, 4, 12);
  auto q = pipeline::prepare_control_units({named}, empty, 32, 32, {dir});
  REQUIRE(q.ok());
  CHECK(q.value()[0].model_path == model_dir);
  CHECK(at::equal(q.value()[0].picture, named.image));

  auto fails = [&](pipeline::ControlUnitRequest c, const std::string& fragment) {
    auto res = pipeline::prepare_control_units({r, c}, empty, 32, 32);
    REQUIRE_FALSE(res.ok());
    CHECK_THAT(res.status().message(), Catch::Contains("control unit 1") && Catch::Contains(fragment));
  };
  pipeline::ControlUnitRequest missing_image = r;
  missing_image.image_path = (dir / "nope.png").string();
  fails(missing_image, "nope.png");
  {
    std::ofstream junk(dir / "junk.png");
    junk << "not a png";
  }
  pipeline::ControlUnitRequest junk_image = r;
  junk_image.image_path = (dir / "junk.png").string();
  fails(junk_image, "junk.png");
  pipeline::ControlUnitRequest missing_model = r;
  missing_model.model = (dir / "absent.safetensors").string();
  fails(missing_model, "absent.safetensors");
  pipeline::ControlUnitRequest unknown_type = r;
  unknown_type.type = "no_such_type";
  fails(unknown_type, "no_such_type");
}

TEST_CASE("control units: a type plugin preprocesses the fitted picture", "[controlunits]") {
  plugins::PluginRegistry reg;
  plugins::RegistrySettings settings;
  settings.search_paths = {sdxl::test_paths::plugin_dir()};
  reg.load(settings);
  if (!reg.find(sdk::FeatureKind::controlnet_type, "canny")) {
    WARN("canny plugin not built in " << sdxl::test_paths::plugin_dir().string() << ": skipped");
    return;
  }
  const fs::path dir = temp_dir("canny");
  pipeline::ControlUnitRequest r;
  r.model = dir.string();
  r.type = "canny";
  r.image = box_picture(48, 48, 16, 32);  // already the output size: no resampling
  auto p = pipeline::prepare_control_units({r}, reg, 48, 48);
  REQUIRE(p.ok());
  const at::Tensor edges = p.value()[0].picture.select(2, 0);
  CHECK(p.value()[0].type == "canny");
  CHECK(p.value()[0].scale == reg.create_controlnet_type("canny").value()->defaults().conditioning_scale);
  // Edges lie on the box outline (rows/cols 15..16 and 31..32), nowhere else.
  CHECK(edges.max().item<int>() == 255);
  CHECK(edges.slice(0, 0, 13).max().item<int>() == 0);
  CHECK(edges.slice(0, 19, 29).slice(1, 19, 29).max().item<int>() == 0);  // inside
  CHECK(edges.slice(0, 35, 48).max().item<int>() == 0);
}
