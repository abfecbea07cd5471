// The resolver must map every spelling of every module of the full-size SDXL key map
// (1059 modules) and of the tiny model's key map to the right diffusers module and shape.
#include <catch2/catch.hpp>

#include "lora/module_table.h"
#include "lora_test_util.h"

using sdxl::lora::ModuleTable;
using sdxl::lora::ParamShapes;

namespace {

// The model's parameter list as a loaded model would have it: diffusers names + shapes.
ParamShapes params_of(const nlohmann::json& keymap) {
  ParamShapes p;
  for (const auto& e : keymap["entries"])
    p[e["component"].get<std::string>() + "." + e["diffusers"].get<std::string>()] = e["shape"].get<std::vector<std::int64_t>>();
  return p;
}

std::string module_of(const nlohmann::json& e) {
  std::string d = e["diffusers"].get<std::string>();
  return e["component"].get<std::string>() + "." + d.substr(0, d.size() - std::string(".weight").size());
}

void check_keymap(const std::string& file, std::size_t expected_count) {
  const auto keymap = lora_test::read_json(lora_test::lora_golden_dir() / file);
  REQUIRE(keymap["entries"].size() == expected_count);
  const ModuleTable table = ModuleTable::from_params(params_of(keymap));
  CHECK(table.module_count() == expected_count);
  std::size_t resolved = 0;
  for (const auto& e : keymap["entries"]) {
    const std::string want = module_of(e);
    std::vector<std::string> spellings = {e["kohya"].get<std::string>(), want};
    if (e.contains("kohya_diffusers_style") && e["kohya_diffusers_style"].is_string())
      spellings.push_back(e["kohya_diffusers_style"].get<std::string>());
    if (e["component"] == "unet") {
      std::string sgm = e["sgm"]["name"].get<std::string>();
      spellings.push_back(sgm.substr(0, sgm.size() - std::string(".weight").size()));
    }
    for (const auto& s : spellings) {
      auto m = table.resolve(s);
      INFO(file << ": " << s);
      REQUIRE(m.has_value());
      CHECK(m->canonical == want);
      CHECK(m->weight_shape == e["shape"].get<std::vector<std::int64_t>>());
    }
    ++resolved;
  }
  CHECK(resolved == expected_count);
}

}  // namespace

TEST_CASE("resolver maps all 1059 full-size SDXL modules in every spelling", "[lora][resolver]") {
  if (!lora_test::have_goldens()) {
    WARN("golden dir missing, skipped");
    return;
  }
  check_keymap("sdxl_full_keymap.json", 1059);
}

TEST_CASE("resolver maps every module of the tiny SDXL-layout model", "[lora][resolver]") {
  if (!lora_test::have_goldens()) {
    WARN("golden dir missing, skipped");
    return;
  }
  check_keymap("tiny_keymap.json", 312);
}

TEST_CASE("resolver rejects names that are not modules", "[lora][resolver]") {
  ParamShapes p = {{"unet.down_blocks.1.attentions.0.proj_in.weight", {64, 64}},
                   {"unet.down_blocks.0.resnets.0.conv1.weight", {32, 32, 3, 3}},
                   {"unet.down_blocks.0.resnets.1.conv1.weight", {32, 32, 3, 3}},
                   {"unet.down_blocks.1.attentions.0.proj_in.bias", {64}},
                   {"text_encoder.text_model.encoder.layers.0.self_attn.q_proj.weight", {32, 32}}};
  const ModuleTable t = ModuleTable::from_params(p);
  CHECK(t.module_count() == 4);
  CHECK(t.resolve("lora_unet_input_blocks_4_1_proj_in")->canonical == "unet.down_blocks.1.attentions.0.proj_in");
  CHECK(t.resolve("lora_te_text_model_encoder_layers_0_self_attn_q_proj")->canonical ==
        "text_encoder.text_model.encoder.layers.0.self_attn.q_proj");
  CHECK_FALSE(t.resolve("lora_unet_input_blocks_99_1_proj_in"));
  CHECK_FALSE(t.resolve("lora_unet_down.blocks.1.attentions.0.proj.in"));  // never '_' <-> '.' guessing
  CHECK_FALSE(t.resolve("unet.down_blocks.1.attentions.0.proj_in.bias"));
  CHECK_FALSE(t.resolve(""));
}
