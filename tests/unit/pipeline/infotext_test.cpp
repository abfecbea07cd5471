#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "pipeline/infotext.h"

using sdxl::pipeline::InfoText;

TEST_CASE("infotext renders A1111's parameters format and parses back", "[pipeline]") {
  InfoText t;
  t.prompt = "a (cat:1.2) on a mat";
  t.negative = "blurry, low quality";
  t.add("Steps", "30");
  t.add("Sampler", "DPM++ 2M");
  t.add("Schedule type", "Karras");
  t.add("CFG scale", "7");
  t.add("Seed", "42");
  t.add("Size", "1024x1024");
  t.add("Lora hashes", "pixel: 1a2b3c, style: 4d5e6f");
  t.add("Version", "sdxl-worker 0.1.0");
  const std::string text = t.render();
  CHECK(text ==
        "a (cat:1.2) on a mat\nNegative prompt: blurry, low quality\n"
        "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 1024x1024, "
        "Lora hashes: \"pixel: 1a2b3c, style: 4d5e6f\", Version: sdxl-worker 0.1.0");
  auto back = sdxl::pipeline::parse_infotext(text);
  CHECK(back.prompt == t.prompt);
  CHECK(back.negative == t.negative);
  REQUIRE(back.fields.size() == t.fields.size());
  for (std::size_t i = 0; i < t.fields.size(); ++i) CHECK(back.fields[i] == t.fields[i]);
}

TEST_CASE("infotext: multi-line prompt, no negative", "[pipeline]") {
  InfoText t;
  t.prompt = "line one\nline two";
  t.add("Steps", "4");
  auto back = sdxl::pipeline::parse_infotext(t.render());
  CHECK(back.prompt == "line one\nline two");
  CHECK(back.negative.empty());
  CHECK(back.fields.size() == 1);
}
