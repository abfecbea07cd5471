// Per-group checks against golden/lora/maps/*.json (independent of the merge results): every key
// group lands on the target parameter(s) the map names, with the map's rank; `lora list`'s
// inventory recognises every golden LoRA and refuses the broken containers with a reason.
#include <catch2/catch.hpp>

#include <set>

#include "lora/lora_inventory.h"
#include "lora_test_util.h"

using namespace sdxl::lora;

TEST_CASE("every key group maps to the map's target and rank", "[lora][maps]") {
  if (!lora_test::have_goldens()) {
    WARN("golden dir missing, skipped");
    return;
  }
  const auto manifest = lora_test::read_json(lora_test::lora_golden_dir() / "manifest.json");
  const WeightMap model = lora_test::tiny_model(at::kHalf);
  const ModuleTable table = ModuleTable::from_params(param_shapes(model));
  LoraLibrary library(lora_test::all_formats());
  for (const auto& [name, entry] : manifest["loras"].items()) {
    const auto map = lora_test::read_json(lora_test::lora_golden_dir() / entry["map"].get<std::string>());
    auto lora = library.load(lora_test::lora_golden_dir() / entry["file"].get<std::string>(), table);
    INFO(name << ": " << (lora.ok() ? "" : lora.status().message()));
    REQUIRE(lora.ok());
    std::map<std::string, std::int64_t> got;  // parameter -> rank
    for (const auto& p : lora.value()->parse.patches) got[p->module() + "." + p->parameter()] = p->rank();
    std::set<std::string> want;
    for (const auto& g : map["groups"]) {
      const std::string target = g["target"].get<std::string>();
      want.insert(target);
      if (g["target_bias"].is_string()) want.insert(g["target_bias"].get<std::string>());
      INFO(name << " group " << g["key_group"].get<std::string>());
      REQUIRE(got.count(target));
      const std::string algo = g["algo"].get<std::string>();
      if ((algo == "lora" || algo == "loha") && g["rank"].is_number()) CHECK(got[target] == g["rank"].get<std::int64_t>());
    }
    std::set<std::string> got_names;
    for (const auto& kv : got) got_names.insert(kv.first);
    CHECK(got_names == want);
  }
}

TEST_CASE("inventory recognises the golden LoRAs and explains broken files", "[lora][list]") {
  if (!lora_test::have_goldens()) {
    WARN("golden dir missing, skipped");
    return;
  }
  LoraLibrary library(lora_test::all_formats());
  auto loras = inventory(lora_test::lora_golden_dir() / "loras", library);
  REQUIRE(loras.ok());
  CHECK(loras.value().size() == 14);
  for (const auto& e : loras.value()) {
    INFO(e.path << ": " << e.reason);
    CHECK(e.recognised);
    CHECK(e.modules_per_target.count("other") == 0);
  }
  auto bad = inventory(lora_test::lora_golden_dir() / "bad", library);
  REQUIRE(bad.ok());
  for (const auto& e : bad.value()) {
    if (e.path.find("empty.") != std::string::npos || e.path.find("trailing_bytes") != std::string::npos ||
        e.path.find("unknown_prefix") != std::string::npos) {
      INFO(e.path);
      CHECK_FALSE(e.recognised);
      CHECK_FALSE(e.reason.empty());
    }
  }
}
