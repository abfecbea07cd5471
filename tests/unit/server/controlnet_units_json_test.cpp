// ControlNet units in server jobs: the JSON (native and A1111 extension spellings) → pipeline
// requests, with names resolved only inside the [controlnet] folders. No model runs here.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "golden/case_files.h"
#include "server/job_controlnets.h"
#include "http_test_support.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace sdxl;

namespace {

// Fills `dir` (a private temporary folder, removed with its TempDir) with a ControlNet file, a
// diffusers-layout folder and things that are not offered.
fs::path controlnet_folder(const fs::path& dir) {
  fs::create_directories(dir / "cn-folder");
  fs::create_directories(dir / "no-config");
  std::ofstream(dir / "cn-file.safetensors") << "x";
  std::ofstream(dir / "cn-folder" / "config.json") << "{}";
  std::ofstream(dir / ".hidden.safetensors") << "x";
  std::ofstream(dir / "notes.txt") << "x";
  return dir;
}

json unit(const std::string& model) {
  return {{"model", model}, {"image", test::gradient_png_base64(32, 24)}};
}

sdk::Result<std::vector<pipeline::ControlUnitRequest>> convert(const json& units, const fs::path& dir) {
  return server::control_requests_from_json(units, {dir}, *test::loaded_registry());
}

}  // namespace

TEST_CASE("server controlnets: names resolve only inside the ControlNet folders", "[server][controlnet]") {
  const golden::TempDir tmp;
  const fs::path dir = controlnet_folder(tmp.path());
  CHECK(server::controlnet_names({dir}) == std::vector<std::string>{"cn-file", "cn-folder"});

  auto file = server::resolve_controlnet_name("cn-file", {dir});
  REQUIRE(file.ok());
  CHECK(file.value() == dir / "cn-file.safetensors");
  auto folder = server::resolve_controlnet_name("cn-folder", {dir});
  REQUIRE(folder.ok());
  CHECK(folder.value() == dir / "cn-folder");

  for (const std::string bad : {"../sdxl_cn_json_test/cn-file", "/etc/passwd", ".hidden", "..", "", "a\\b"}) {
    auto r = server::resolve_controlnet_name(bad, {dir});
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == sdk::StatusCode::invalid_argument);
  }
  CHECK(server::resolve_controlnet_name("no-config", {dir}).status().code() == sdk::StatusCode::not_found);
  CHECK(server::resolve_controlnet_name("missing", {dir}).status().code() == sdk::StatusCode::not_found);
  auto none = server::resolve_controlnet_name("cn-file", {});
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.status().message(), Catch::Contains("[controlnet] folders"));

  // A1111 clients send the listed title back, "name [hash]".
  auto units = convert(json::array({unit("cn-file [0a1b2c3d]")}), dir);
  REQUIRE(units.ok());
  REQUIRE(units.value().size() == 1);
  CHECK(units.value()[0].model == (dir / "cn-file.safetensors").string());
  auto traversal = convert(json::array({unit("../cn-file")}), dir);
  REQUIRE_FALSE(traversal.ok());
  CHECK_THAT(traversal.status().message(), Catch::StartsWith("controlnets[0].model"));
}

TEST_CASE("server controlnets: both field spellings, A1111 modules and numbers", "[server][controlnet]") {
  const golden::TempDir tmp;
  const fs::path dir = controlnet_folder(tmp.path());
  const json a1111 = {{"input_image", {{"image", test::gradient_png_base64(32, 24)}, {"mask", nullptr}}},
                      {"module", "canny"},
                      {"model", "cn-folder"},
                      {"weight", 0.6},
                      {"guidance_start", 0.1},
                      {"guidance_end", 0.9},
                      {"resize_mode", 2},
                      {"threshold_a", 50},
                      {"threshold_b", 150},
                      {"processor_res", 512},
                      {"pixel_perfect", false},
                      {"low_vram", false},
                      {"control_mode", "Balanced"},
                      {"enabled", true}};
  const json native = {{"model", "cn-file"}, {"image", "data:image/png;base64," + test::gradient_png_base64(16, 16)},
                       {"type", "none"},     {"scale", 1.5},  {"start", 0.0}, {"end", 0.5},
                       {"resize", "just_resize"}, {"options", json::object()}};
  const json disabled = {{"model", "missing-but-disabled"}, {"enabled", false}};
  auto units = convert(json::array({a1111, disabled, native}), dir);
  INFO((units.ok() ? std::string() : units.status().message()));
  REQUIRE(units.ok());
  REQUIRE(units.value().size() == 2);  // the disabled unit is skipped before anything is checked
  const auto& a = units.value()[0];
  CHECK(a.type == "canny");
  CHECK(a.scale == 0.6);
  CHECK(a.guidance_start == 0.1);
  CHECK(a.guidance_end == 0.9);
  CHECK(a.resize_mode == "resize_and_fill");
  CHECK(a.type_options.get_int("low_threshold", -1) == 50);
  CHECK(a.type_options.get_int("high_threshold", -1) == 150);
  CHECK(a.image.sizes() == at::IntArrayRef({24, 32, 3}));
  const auto& n = units.value()[1];
  CHECK(n.type == "none");
  CHECK(n.scale == 1.5);
  CHECK(n.guidance_end == 0.5);
  CHECK(n.resize_mode == "just_resize");
  CHECK(n.image.size(0) == 16);

  // A1111 module names reach their family's plugin.
  const auto& reg = *test::loaded_registry();
  for (const auto& [module, family] : std::vector<std::pair<std::string, std::string>>{
           {"depth_leres", "depth"}, {"openpose_full", "pose"}, {"seg_ofade20k", "segmentation"},
           {"lineart_realistic", "lineart"}, {"scribble_pidinet", "scribble"}, {"normal_bae", "normal"}}) {
    if (!reg.find(sdk::FeatureKind::controlnet_type, family)) continue;  // plugin switched off
    json u = unit("cn-file");
    u["module"] = module;
    auto r = convert(json::array({u}), dir);
    INFO(module);
    REQUIRE(r.ok());
    CHECK(r.value()[0].type == family);
  }
}

TEST_CASE("server controlnets: bad units are refused naming the unit and field", "[server][controlnet]") {
  const golden::TempDir tmp;
  const fs::path dir = controlnet_folder(tmp.path());
  struct Case {
    json unit;
    std::string where;
  };
  json bad_b64 = unit("cn-file");
  bad_b64["image"] = "not base64 !!";
  json not_png = unit("cn-file");
  not_png["image"] = server::base64_encode(reinterpret_cast<const unsigned char*>("GIF89a-----"), 11);
  json no_image = {{"model", "cn-file"}};
  json no_model = {{"image", test::gradient_png_base64(8, 8)}};
  json typo = unit("cn-file");
  typo["wieght"] = 1.0;
  json weight_text = unit("cn-file");
  weight_text["weight"] = "strong";
  json negative = unit("cn-file");
  negative["weight"] = -1.0;
  json resize = unit("cn-file");
  resize["resize_mode"] = 3;
  json module = unit("cn-file");
  module["module"] = "ip-adapter_clip";
  json mode = unit("cn-file");
  mode["control_mode"] = "My prompt is more important";
  json window = unit("cn-file");
  window["guidance_start"] = 0.8;
  window["guidance_end"] = 0.2;
  for (const auto& c : std::vector<Case>{{bad_b64, "controlnets[0].image"},
                                         {not_png, "controlnets[0].image"},
                                         {no_image, "controlnets[0].image"},
                                         {no_model, "controlnets[0].model"},
                                         {typo, "controlnets[0].wieght"},
                                         {weight_text, "controlnets[0].weight"},
                                         {negative, "controlnets[0]"},
                                         {resize, "controlnets[0].resize_mode"},
                                         {module, "controlnets[0].module"},
                                         {mode, "controlnets[0].control_mode"},
                                         {window, "controlnets[0]"},
                                         {json("a string"), "controlnets[0]"}}) {
    auto r = convert(json::array({c.unit}), dir);
    INFO(c.unit.dump().substr(0, 200));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == sdk::StatusCode::invalid_argument);
    CHECK_THAT(r.status().message(), Catch::StartsWith(c.where));
  }
  CHECK_FALSE(convert(json::object(), dir).ok());  // not an array
  CHECK(convert(nullptr, dir).ok());               // absent: no units
}
