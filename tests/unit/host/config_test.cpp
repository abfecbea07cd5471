// TOML configuration: defaults, every kind of error with file:line:column, plugin option tables.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "config/plugin_options.h"
#include "plugins/registry.h"
#include "test_paths.h"

namespace fs = std::filesystem;

namespace {
std::string write(const std::string& name, const std::string& text) {
  auto dir = sdxl::test_paths::scratch_dir() / "sdxl_config_tests";
  fs::create_directories(dir);
  auto p = dir / name;
  std::ofstream(p) << text;
  return p.string();
}
}  // namespace

TEST_CASE("a valid file sets values and keeps the other defaults", "[config]") {
  auto path = write("ok.toml", "[plugins]\ndisable = [\"dpm2*\"]\n[log]\nlevel = \"debug\"\n");
  auto c = sdxl::config::load_config(path);
  REQUIRE(c.ok());
  CHECK(c.value().plugin_disable == std::vector<std::string>{"dpm2*"});
  CHECK(c.value().log_level == "debug");
  CHECK(c.value().log_format == "text");
  CHECK(c.value().plugin_enable == std::vector<std::string>{"*"});
}

TEST_CASE("configuration errors name file, line, column and key", "[config]") {
  auto check = [](const std::string& text, const std::string& where, const std::string& what) {
    auto path = write("bad.toml", text);
    auto c = sdxl::config::load_config(path);
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.status().message(), Catch::Contains(path + ":" + where) && Catch::Contains(what));
  };
  check("[log]\nlevel = \"loud\"\n", "2:9", "not one of");
  check("[log]\n\nformat = 3\n", "3:10", "expected a string");
  check("[plugins]\npathz = []\n", "2:9", "unknown key 'pathz'");
  check("[nosuch]\nx = 1\n", "1:1", "unknown section [nosuch]");
  check("[plugins]\npaths = [1]\n", "2:10", "list entries must be strings");
  check("[log\nlevel = 1\n", "1:", "");  // a TOML syntax error
  auto missing = sdxl::config::load_config("/nonexistent/sdxl.toml");
  CHECK(missing.status().code() == sdxl::sdk::StatusCode::not_found);
}

TEST_CASE("config dump parses back to the defaults", "[config]") {
  auto path = write("dump.toml", sdxl::config::dump_defaults());
  auto c = sdxl::config::load_config(path);
  REQUIRE(c.ok());
  auto d = sdxl::config::default_config();
  CHECK(c.value().plugin_enable == d.plugin_enable);
  CHECK(c.value().log_level == d.log_level);
  CHECK(c.value().model_path == d.model_path);
}

TEST_CASE("plugin option tables are checked against the plugin's schema", "[config]") {
  sdxl::plugins::PluginRegistry reg;
  REQUIRE(reg.load_library(sdxl::test_paths::test_plugin_dir() / "libsdxl_test_good.so"));
  auto apply = [&](const std::string& text) {
    auto path = write("opts.toml", text);
    auto c = sdxl::config::load_config(path);
    REQUIRE(c.ok());
    return sdxl::config::apply_plugin_options(reg, c.value().plugin_options(), path);
  };
  auto unknown = apply("[plugins.options.\"org.sdxl.test.good\"]\nwobble = 1\n");
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.message(), Catch::Contains(":2:") && Catch::Contains("no option 'wobble'"));
  auto range = apply("[plugins.options.\"org.sdxl.test.good\".test_linear_euler]\nstrength = 2.5\n");
  REQUIRE_FALSE(range.ok());
  CHECK_THAT(range.message(), Catch::Contains(":2:12") && Catch::Contains("above the maximum"));
  auto type = apply("[plugins.options.\"org.sdxl.test.good\"]\nstrength = \"high\"\n");
  REQUIRE_FALSE(type.ok());
  CHECK_THAT(type.message(), Catch::Contains("expected a number"));

  REQUIRE(apply("[plugins.options.\"org.sdxl.test.good\"]\nstrength = 0.25\n").ok());
  const auto* f = reg.find(sdxl::sdk::FeatureKind::scheduler, "test_linear_euler");
  REQUIRE(f);
  CHECK(f->options.get_number("strength") == Approx(0.25));
  // An absent plugin's table is a warning, not an error (operators remove plugins).
  CHECK(apply("[plugins.options.\"org.absent.plugin\"]\nx = 1\n").ok());
}
