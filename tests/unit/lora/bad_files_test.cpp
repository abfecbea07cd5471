// Every file of golden/lora/bad/: a clear error naming the problem (and the key group where
// bad_cases.json lists one), never a crash, and no weight changed.
#include <catch2/catch.hpp>

#include "lora_test_util.h"

using namespace sdxl::lora;

TEST_CASE("every broken LoRA file is refused with the key group named, weights untouched", "[lora][bad]") {
  if (!lora_test::have_goldens()) {
    WARN("golden dir missing, skipped");
    return;
  }
  const auto bad = lora_test::read_json(lora_test::lora_golden_dir() / "bad" / "bad_cases.json");
  const WeightMap base = lora_test::tiny_model(at::kFloat);
  WeightMap weights;
  for (const auto& [k, v] : base) weights[k] = v.clone();
  const ModuleTable table = ModuleTable::from_params(param_shapes(weights));
  LoraLibrary library(lora_test::all_formats());
  std::size_t refused = 0;
  for (const auto& c : bad["cases"]) {
    const std::string file = c["file"].get<std::string>();
    const std::string expect = c["expect"].get<std::string>();
    MergeEngine engine(&weights);
    auto l = library.load(lora_test::lora_golden_dir() / file, table);
    sdxl::sdk::Status status = l.status();
    if (l.ok()) {
      auto merged = engine.merge({{l.value(), 0.8}});
      status = merged.status();
    }
    INFO(file << " -> " << (status.ok() ? std::string("accepted") : status.message()));
    if (expect == "ok") {
      CHECK(status.ok());
      engine.unmerge();
    } else {
      REQUIRE_FALSE(status.ok());
      ++refused;
      CHECK(status.message().find(file.substr(file.find('/') + 1)) != std::string::npos);  // names the file
      for (const auto& group : c["must_mention"]) CHECK_THAT(status.message(), Catch::Contains(group.get<std::string>()));
      CHECK_FALSE(engine.merged());
    }
    for (const auto& [k, v] : base) REQUIRE(at::equal(weights.at(k), v));
  }
  CHECK(refused == bad["cases"].size() - 1);
}
