#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "../../../host/cli/args.cpp"  // the CLI parser lives in the executable; test its source

TEST_CASE("command-line parsing", "[cli]") {
  sdxl::cli::Args a({"--json", "--lora", "a.safetensors:0.5", "pos", "--lora=b", "--steps", "20"});
  a.flag("json");
  a.option("lora");
  a.option("steps");
  REQUIRE(a.parse());
  CHECK(a.has("json"));
  CHECK(a.get_all("lora") == std::vector<std::string>{"a.safetensors:0.5", "b"});
  CHECK(a.get_or("steps", "") == "20");
  CHECK(a.positionals() == std::vector<std::string>{"pos"});

  sdxl::cli::Args bad({"--nope"});
  CHECK_FALSE(bad.parse());
  CHECK_THAT(bad.error(), Catch::Contains("--nope"));
  sdxl::cli::Args missing({"--steps"});
  missing.option("steps");
  CHECK_FALSE(missing.parse());
  CHECK_THAT(missing.error(), Catch::Contains("needs a value"));
}
