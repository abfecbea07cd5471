// Every case of golden/lora/manifest.json: merge in float32 from the fp16 base, compare with the
// expected tensors (manifest tolerance), everything else bit-identical; then unmerge restores
// the base bit-identically. The same with float16 storage (README tolerance 2e-3).
#include <catch2/catch.hpp>

#include "lora/weight_compare.h"
#include "lora_test_util.h"

using namespace sdxl::lora;

namespace {

struct Case {
  std::string name;
  std::vector<std::pair<std::string, double>> inputs;
  std::string dora;
  std::string expected;
};

std::vector<Case> manifest_cases() {
  std::vector<Case> out;
  const auto m = lora_test::read_json(lora_test::lora_golden_dir() / "manifest.json");
  for (const auto& c : m["cases"]) {
    Case k;
    k.name = c["case"].get<std::string>();
    for (const auto& in : c["inputs"]) k.inputs.emplace_back(in["lora"].get<std::string>(), in["multiplier"].get<double>());
    k.dora = c["dora_convention"].is_string() ? c["dora_convention"].get<std::string>() : "interpolate";
    k.expected = c["expected"].get<std::string>();
    out.push_back(k);
  }
  return out;
}

std::map<std::string, at::Tensor> read_expected(const std::string& rel) {
  auto f = sdxl::io::SafetensorsFile::open(lora_test::lora_golden_dir() / rel);
  REQUIRE(f.ok());
  auto t = f.value()->all_tensors();
  REQUIRE(t.ok());
  return t.value();
}

// Merges one case into `weights`; returns the engine (still merged).
std::unique_ptr<MergeEngine> merge_case(const Case& c, WeightMap& weights) {
  CommonSettings s;
  s.dora = c.dora == "lycoris" ? DoraConvention::lycoris : DoraConvention::interpolate;
  LoraLibrary library(lora_test::all_formats(s));
  const ModuleTable table = ModuleTable::from_params(param_shapes(weights));
  std::vector<LoraApplication> stack;
  for (const auto& [file, m] : c.inputs) {
    auto l = library.load(lora_test::lora_golden_dir() / file, table);
    INFO(c.name << ": " << (l.ok() ? "" : l.status().message()));
    REQUIRE(l.ok());
    CHECK(l.value()->parse.warnings.empty());
    stack.push_back({l.value(), m});
  }
  auto engine = std::make_unique<MergeEngine>(&weights);
  auto st = engine->merge(stack);
  INFO(c.name << ": " << (st.ok() ? "" : st.status().message()));
  REQUIRE(st.ok());
  return engine;
}

}  // namespace

TEST_CASE("every golden LoRA case merges within tolerance in float32", "[lora][golden]") {
  if (!lora_test::have_goldens()) {
    WARN("golden dir missing, skipped");
    return;
  }
  const auto cases = manifest_cases();
  REQUIRE(cases.size() >= 20);
  const WeightMap base = lora_test::tiny_model(at::kFloat);
  for (const auto& c : cases) {
    WeightMap weights;
    for (const auto& [k, v] : base) weights[k] = v.clone();
    auto engine = merge_case(c, weights);
    const auto expected = read_expected(c.expected);
    const CompareResult r = compare_merge(weights, expected, *engine, 1e-5, 1e-4);
    INFO(c.name << " (" << c.inputs.size() << " input(s)): " << r.summary());
    CHECK(r.passed);
    CHECK(engine->changed_parameters().size() == expected.size());
    engine->unmerge();
    for (const auto& [k, v] : base) {
      INFO(c.name << ": unmerge of " << k);
      REQUIRE(at::equal(weights.at(k), v));
    }
  }
}

TEST_CASE("golden cases with float16 storage: within 2e-3, unmerge bit-identical", "[lora][golden]") {
  if (!lora_test::have_goldens()) {
    WARN("golden dir missing, skipped");
    return;
  }
  const WeightMap base = lora_test::tiny_model(at::kHalf);
  for (const auto& c : manifest_cases()) {
    WeightMap weights;
    for (const auto& [k, v] : base) weights[k] = v.clone();
    auto engine = merge_case(c, weights);
    std::map<std::string, at::Tensor> expected;
    for (const auto& [k, v] : read_expected(c.expected)) expected[k] = v.to(at::kHalf).to(at::kFloat);
    const CompareResult r = compare_merge(weights, expected, *engine, 2e-3, 2e-3);
    INFO(c.name << ": " << r.summary());
    CHECK(r.passed);
    std::uint64_t bytes = 0;
    for (const auto& k : engine->changed_parameters()) bytes += weights.at(k).numel() * 2;
    CHECK(engine->backup_bytes() == bytes);
    engine->unmerge();
    CHECK(engine->backup_bytes() == 0);
    for (const auto& [k, v] : base) REQUIRE(at::equal(weights.at(k), v));
  }
}
