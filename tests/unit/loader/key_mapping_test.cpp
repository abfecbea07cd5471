// Single-file -> diffusers name mapping on the real SDXL base/refiner key lists (no weights).
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "full_layouts.h"
#include "models/loader/key_mapping.h"

using namespace sdxl;
using models::loader::Transform;

namespace {
// A header entry (no data): the mapping reads names and shapes only.
io::TensorEntry entry(std::string name, std::vector<std::int64_t> shape) {
  io::TensorEntry e;
  e.name = std::move(name);
  e.dtype = "F16";
  e.shape = std::move(shape);
  return e;
}
}  // namespace

TEST_CASE("key mapping: every real SDXL single-file tensor maps as the reference says", "[loader]") {
  const auto* layouts = testing::full_layouts();
  if (!layouts) {
    WARN("sdxl_full_layouts.json not found, skipping");
    return;
  }
  for (const char* model_name : testing::kModelNames) {
    INFO(model_name);
    const auto& model = (*layouts)["models"][model_name];
    const auto entries = testing::single_file_entries(model);
    auto mapping = models::loader::map_single_file(entries, model_name);
    INFO(mapping.status().message());
    REQUIRE(mapping.ok());

    // Expected: every diffusers tensor exactly once, from the listed source, with the listed "how".
    std::map<std::string, std::pair<std::string, std::string>> expected;  // comp/key -> (source, how)
    std::map<std::string, int> expected_part;
    std::set<std::string> expected_unused;
    for (const auto& [name, info] : model["single_file"]["tensors"].items()) {
      const auto how = info["how"].get<std::string>();
      if (how == "unused") expected_unused.insert(name);
      int part = 0;
      for (const auto& ref : info["diffusers"]) {
        expected[ref.get<std::string>()] = {name, how};
        expected_part[ref.get<std::string>()] = part++;
      }
    }
    std::set<std::string> produced;
    for (const auto& m : mapping->tensors) {
      const std::string ref = m.component + "/" + m.key;
      INFO(m.source << " -> " << ref);
      REQUIRE(expected.count(ref));
      CHECK(expected[ref].first == m.source);
      CHECK(expected[ref].second == models::loader::to_string(m.how));
      if (m.how == Transform::qkv_rows) CHECK(expected_part[ref] == m.part);
      CHECK(produced.insert(ref).second);
      // The mapped shape is the diffusers shape.
      const auto& comp = model["diffusers"]["components"][m.component]["tensors"];
      REQUIRE(comp.contains(m.key));
      CHECK(comp[m.key].get<std::vector<std::int64_t>>() == m.shape);
    }
    CHECK(produced.size() == expected.size());
    CHECK(std::set<std::string>(mapping->ignored.begin(), mapping->ignored.end()) == expected_unused);
    // ... and that is every tensor of every diffusers component.
    std::size_t diffusers_total = 0;
    for (const auto& [comp, info] : model["diffusers"]["components"].items()) diffusers_total += info["tensors"].size();
    CHECK(produced.size() == diffusers_total);
  }
}

TEST_CASE("key mapping: tolerated extras are ignored, unknown names are errors naming file and key", "[loader]") {
  std::vector<io::TensorEntry> entries = {
      entry("model.diffusion_model.input_blocks.0.0.weight", {320, 4, 3, 3}), entry("denoiser.sigmas", {1000}),
      entry("model_ema.decay", {}), entry("alphas_cumprod", {1000}), entry("v_pred", {}),
      entry("conditioner.embedders.0.transformer.text_model.embeddings.position_ids", {1, 77})};
  auto ok = models::loader::map_single_file(entries, "x.safetensors");
  REQUIRE(ok.ok());
  CHECK(ok->tensors.size() == 1);
  CHECK(ok->tensors[0].key == "conv_in.weight");
  CHECK(ok->ignored.size() == 5);

  entries.push_back(entry("model.diffusion_model.input_blocks.1.0.mystery.weight", {3}));
  auto bad = models::loader::map_single_file(entries, "x.safetensors");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("x.safetensors") != std::string::npos);
  CHECK(bad.status().message().find("input_blocks.1.0.mystery.weight") != std::string::npos);

  std::vector<io::TensorEntry> sd15 = {entry("cond_stage_model.transformer.text_model.final_layer_norm.weight", {768})};
  CHECK_FALSE(models::loader::map_single_file(sd15, "sd15.safetensors").ok());

  // A fused q/k/v tensor whose rows do not split in three is rejected by name.
  std::vector<io::TensorEntry> qkv = {entry("conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_bias", {10})};
  auto q = models::loader::map_single_file(qkv, "q.safetensors");
  REQUIRE_FALSE(q.ok());
  CHECK(q.status().message().find("in_proj_bias") != std::string::npos);
}

TEST_CASE("key mapping: UNet-only files without the model.diffusion_model prefix", "[loader]") {
  const auto* layouts = testing::full_layouts();
  if (!layouts) return;
  const auto& model = (*layouts)["models"]["sdxl-base-1.0"];
  std::vector<io::TensorEntry> unet_only;
  const std::string prefix = "model.diffusion_model.";
  for (auto e : testing::single_file_entries(model)) {
    if (e.name.compare(0, prefix.size(), prefix) != 0) continue;
    e.name = e.name.substr(prefix.size());
    unet_only.push_back(e);
  }
  auto mapping = models::loader::map_single_file(unet_only, "unet.safetensors");
  INFO(mapping.status().message());
  REQUIRE(mapping.ok());
  CHECK(mapping->tensors.size() == 1680);
  for (const auto& m : mapping->tensors) CHECK(m.component == "unet");
}

TEST_CASE("key mapping: a VAE file with the original names and no prefix maps as the checkpoint's VAE does",
          "[loader][vae]") {
  // Stability's sdxl_vae.safetensors and the fp16-fix VAE's A1111 file: first_stage_model.*
  // without the prefix. Each tensor must land where the reference maps its prefixed name.
  const auto* layouts = testing::full_layouts();
  if (!layouts) {
    WARN("sdxl_full_layouts.json not found, skipping");
    return;
  }
  const auto& model = (*layouts)["models"]["sdxl-base-1.0"];
  const std::string prefix = "first_stage_model.";
  std::vector<io::TensorEntry> vae_only;
  std::map<std::string, std::string> expected;  // unprefixed name -> diffusers key
  for (auto e : testing::single_file_entries(model)) {
    if (e.name.compare(0, prefix.size(), prefix) != 0) continue;
    const auto& refs = model["single_file"]["tensors"][e.name]["diffusers"];
    REQUIRE(refs.size() == 1);
    const std::string ref = refs[0].get<std::string>();  // "vae/<key>"
    e.name = e.name.substr(prefix.size());
    expected[e.name] = ref.substr(ref.find('/') + 1);
    vae_only.push_back(e);
  }
  REQUIRE(vae_only.size() == 248);
  auto mapping = models::loader::map_single_file(vae_only, "sdxl_vae.safetensors");
  INFO(mapping.status().message());
  REQUIRE(mapping.ok());
  REQUIRE(mapping->tensors.size() == expected.size());
  for (const auto& m : mapping->tensors) {
    INFO(m.source);
    CHECK(m.component == "vae");
    CHECK(m.key == expected.at(m.source));
  }
}

TEST_CASE("key mapping: a VAE training checkpoint's loss networks are ignored", "[loader][vae]") {
  const std::vector<io::TensorEntry> entries = {
      entry("encoder.conv_in.weight", {128, 3, 3, 3}), entry("decoder.conv_in.weight", {512, 4, 3, 3}),
      entry("decoder.up.0.block.0.conv1.weight", {128, 256, 3, 3}), entry("post_quant_conv.weight", {4, 4, 1, 1}),
      entry("loss.logvar", {}), entry("loss.discriminator.main.0.weight", {64, 3, 4, 4})};
  auto m = models::loader::map_single_file(entries, "vae-ft-mse.safetensors");
  INFO(m.status().message());
  REQUIRE(m.ok());
  CHECK(m->ignored.size() == 2);
  std::set<std::string> keys;
  for (const auto& t : m->tensors) {
    CHECK(t.component == "vae");
    keys.insert(t.key);
  }
  // One decoder level in this file: up.0 is the last (and only) up_blocks index, 0.
  CHECK(keys == std::set<std::string>{"encoder.conv_in.weight", "decoder.conv_in.weight",
                                      "decoder.up_blocks.0.resnets.0.conv1.weight", "post_quant_conv.weight"});
}
