// The plugin registry against the deliberately broken test plugins (tests/plugins/): every
// rejection carries the right reason, the host keeps going, and a good plugin works.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "plugins/registry.h"
#include "test_paths.h"

namespace fs = std::filesystem;
using sdxl::plugins::PluginRegistry;

namespace {
fs::path test_plugin(const std::string& name) { return sdxl::test_paths::test_plugin_dir() / ("libsdxl_test_" + name + ".so"); }

std::string rejection_reason(const std::string& name) {
  PluginRegistry reg;
  REQUIRE(fs::exists(test_plugin(name)));
  CHECK_FALSE(reg.load_library(test_plugin(name)));
  REQUIRE(reg.rejected().size() == 1);
  CHECK(reg.plugins().empty());
  return reg.rejected()[0].reason;
}
}  // namespace

TEST_CASE("broken plugins are rejected with the right reason", "[registry]") {
  CHECK_THAT(rejection_reason("wrong_abi_major"), Catch::Contains("ABI major mismatch"));
  CHECK_THAT(rejection_reason("newer_abi_minor"), Catch::Contains("newer than the host"));
  CHECK_THAT(rejection_reason("wrong_build_tag"), Catch::Contains("build tag mismatch"));
  CHECK_THAT(rejection_reason("missing_symbol"), Catch::Contains("missing entry symbol"));
  CHECK_THAT(rejection_reason("factory_throws"), Catch::Contains("factory failed: deliberate failure"));
  CHECK_THAT(rejection_reason("bad_schema"), Catch::Contains("invalid option schema") && Catch::Contains("eta"));
}

TEST_CASE("a file that is not a loadable library is rejected, not fatal", "[registry]") {
  PluginRegistry reg;
  CHECK_FALSE(reg.load_library(sdxl::test_paths::source_dir() / "README.md"));
  REQUIRE(reg.rejected().size() == 1);
  CHECK_THAT(reg.rejected()[0].reason, Catch::Contains("cannot load"));
}

TEST_CASE("a folder with good and broken plugins loads the good one and records the rest", "[registry]") {
  PluginRegistry reg;
  sdxl::plugins::RegistrySettings settings;
  settings.search_paths = {sdxl::test_paths::test_plugin_dir()};
  reg.load(settings);
  // good and duplicate_id share an id: whichever loads first wins, the other is a duplicate.
  REQUIRE(reg.plugins().size() == 1);
  CHECK(reg.plugins()[0]->info().id == "org.sdxl.test.good");
  bool duplicate = false;
  for (const auto& r : reg.rejected()) duplicate = duplicate || r.reason.find("duplicate plugin id") != std::string::npos;
  CHECK(duplicate);
  CHECK(reg.rejected().size() == 7);
}

TEST_CASE("features are found by name, alias and loose spelling, the scheduler runs", "[registry]") {
  PluginRegistry reg;
  REQUIRE(reg.load_library(test_plugin("good")));
  using sdxl::sdk::FeatureKind;
  REQUIRE(reg.find(FeatureKind::scheduler, "test_linear_euler"));
  CHECK(reg.find(FeatureKind::scheduler, "Test Linear Euler"));
  CHECK(reg.find(FeatureKind::scheduler, "TEST-LINEAR-EULER"));
  CHECK_FALSE(reg.find(FeatureKind::scheduler, "nope"));
  CHECK_FALSE(reg.find(FeatureKind::lora_format, "test_linear_euler"));

  auto missing = reg.create_scheduler("nope");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains("available: test_linear_euler"));

  auto s = reg.create_scheduler("test_linear_euler");
  REQUIRE(s.ok());
  REQUIRE(s.value()->set_timesteps(4).ok());
  CHECK(s.value()->timesteps().size(0) == 4);
}

TEST_CASE("option overrides are checked against the schema", "[registry]") {
  PluginRegistry reg;
  REQUIRE(reg.load_library(test_plugin("good")));
  sdxl::sdk::Options bad_key, bad_value, good;
  bad_key.set("nonsense", 1.0);
  bad_value.set("strength", 3.0);
  good.set("strength", std::int64_t{1});  // an integer is fine for a float option
  auto r1 = reg.create_scheduler("test_linear_euler", &bad_key);
  REQUIRE_FALSE(r1.ok());
  CHECK_THAT(r1.status().message(), Catch::Contains("unknown option 'nonsense'"));
  auto r2 = reg.create_scheduler("test_linear_euler", &bad_value);
  REQUIRE_FALSE(r2.ok());
  CHECK_THAT(r2.status().message(), Catch::Contains("above the maximum 1"));
  CHECK(reg.create_scheduler("test_linear_euler", &good).ok());
}

TEST_CASE("enable/disable globs decide the active features", "[registry]") {
  using sdxl::sdk::FeatureKind;
  {
    PluginRegistry reg;
    sdxl::plugins::RegistrySettings s;
    s.disable = {"test_*"};
    reg.load(s);
    REQUIRE(reg.load_library(test_plugin("good")));
    CHECK(reg.plugins().size() == 1);  // loaded, but its feature is switched off
    CHECK_FALSE(reg.find(FeatureKind::scheduler, "test_linear_euler"));
  }
  {
    PluginRegistry reg;
    sdxl::plugins::RegistrySettings s;
    s.enable = {"org.sdxl.test.*"};
    reg.load(s);
    REQUIRE(reg.load_library(test_plugin("good")));
    CHECK(reg.find(FeatureKind::scheduler, "test_linear_euler"));
  }
}

TEST_CASE("every built-in plugin library loads without rejection", "[registry]") {
  PluginRegistry reg;
  sdxl::plugins::RegistrySettings s;
  s.search_paths = {sdxl::test_paths::plugin_dir()};
  reg.load(s);
  for (const auto& r : reg.rejected()) FAIL_CHECK(r.library << ": " << r.reason);
  CHECK_FALSE(reg.plugins().empty());
}
