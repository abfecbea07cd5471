// The golden replay framework: tolerance comparison, manifest stripping, stripped copies that
// keep only allowed inputs, and result files.
#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include <limits>

#include "golden/case_files.h"
#include "golden/compare.h"
#include "golden/runner.h"

using namespace sdxl;
using nlohmann::json;

TEST_CASE("compare_tensors applies atol + rtol*|want| elementwise", "[golden]") {
  auto want = at::tensor({1.0f, -2.0f, 100.0f});
  CHECK(golden::compare_tensors(want + 5e-6, want, 1e-5, 0.0).ok);  // float32 rounding of 100 + 5e-6 stays below 1e-5
  auto d = golden::compare_tensors(at::tensor({1.0f, -2.0f, 100.1f}), want, 1e-4, 1e-4);
  CHECK_FALSE(d.ok);
  CHECK(d.index == 2);
  CHECK(d.worst == Approx(0.1 / (1e-4 + 1e-2)).epsilon(1e-3));
  CHECK(golden::compare_tensors(at::tensor({1.0f, -2.0f, 100.005f}), want, 1e-4, 1e-4).ok);

  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(golden::compare_tensors(at::tensor({nan, 1.0f}), at::tensor({nan, 1.0f}), 0, 0).ok);
  CHECK_FALSE(golden::compare_tensors(at::tensor({0.0f, 1.0f}), at::tensor({nan, 1.0f}), 1, 1).ok);
  CHECK_FALSE(golden::compare_tensors(at::zeros({2, 2}), at::zeros({3}), 1, 1).ok);
  CHECK(golden::compare_tensors(at::tensor({int64_t{5}}), at::tensor({5.0}), 0, 0).ok);
}

TEST_CASE("filter_manifest keeps allowed keys, nested keys and array fields", "[golden]") {
  json m = {{"case", "x"},
            {"secret", 3},
            {"img2img", {{"strength", 0.6}, {"t_start", 4}}},
            {"calls", json::array({{{"draws", {0}}, {"t", 1.0}}, {{"draws", json::array()}, {"t", 2.0}}})}};
  auto f = golden::filter_manifest(m, {"case", "img2img.strength", "calls[].draws"});
  CHECK(f["case"] == "x");
  CHECK_FALSE(f.contains("secret"));
  CHECK(f["img2img"].size() == 1);
  CHECK(f["img2img"]["strength"] == 0.6);
  REQUIRE(f["calls"].size() == 2);
  CHECK(f["calls"][0].size() == 1);
  CHECK(f["calls"][0]["draws"][0] == 0);
}

TEST_CASE("strip_case writes only allowed tensors and keys, load_case reads them back", "[golden]") {
  golden::TempDir dir;
  const auto src = dir.path() / "src";
  std::filesystem::create_directories(src);
  json manifest = {{"name", "toy_1"}, {"input", 1}, {"answer", 42}};
  REQUIRE(io::write_safetensors(src / "toy_1.safetensors", {{"x", at::ones({2})}, {"expected", at::zeros({2})}},
                                {{"manifest", manifest.dump()}})
              .ok());
  auto c = golden::load_case(src / "toy_1.safetensors");
  REQUIRE(c.ok());
  CHECK(c.value().manifest["answer"] == 42);
  CHECK(golden::case_name(c.value()) == "toy_1");

  const auto out = dir.path() / "out";
  std::filesystem::create_directories(out);
  auto s = golden::strip_case(c.value(), {"input"}, {"x"}, out);
  REQUIRE(s.ok());
  CHECK(s.value().tensors->contains("x"));
  CHECK_FALSE(s.value().tensors->contains("expected"));
  CHECK_FALSE(s.value().manifest.contains("answer"));
  CHECK(s.value().manifest["input"] == 1);
  CHECK(s.value().source_dir == src);

  auto files = golden::list_case_files(out);
  REQUIRE(files.size() == 1);  // the sidecar JSON is not a case of its own
  CHECK(files[0].filename() == "toy_1.safetensors");

  REQUIRE(golden::write_result(out / "result.safetensors", c.value(), {{"y", at::ones({3})}}, json{{"k", 1}}).ok());
  auto r = io::SafetensorsFile::open(out / "result.safetensors");
  REQUIRE(r.ok());
  CHECK(r.value()->contains("y"));
  CHECK(r.value()->metadata().at("case") == "toy_1");
}
