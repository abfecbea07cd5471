// A VAE of its own ([model] vae, --vae; pipeline/vae_file.h): every published layout reads to the
// same weights as the checkpoint's own VAE, TAESD is recognised, and a VAE of another latent space
// is refused at load with both sides named.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>

#include "demo_model_fixture.h"
#include "io/safetensors.h"
#include "pipeline/vae_file.h"
#include "test_paths.h"

using namespace sdxl;
namespace fs = std::filesystem;

namespace {

const fs::path kGoldenModels = sdxl::test_paths::golden_models_dir();

// A fresh copy of the demo model's vae/ folder with its config.json edited by `edit`.
fs::path edited_vae_copy(const fs::path& demo, const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
  const fs::path dir = sdxl::test_paths::scratch_dir() / name;
  fs::remove_all(dir);
  fs::copy(demo / "vae", dir, fs::copy_options::recursive);
  nlohmann::json config;
  std::ifstream(dir / "config.json") >> config;
  edit(config);
  std::ofstream(dir / "config.json") << config.dump(2);
  return dir;
}

at::Tensor decode(const pipeline::SdxlModel& model, const at::Tensor& latents) {
  auto picture = model.vae->decode(latents, nullptr);
  INFO(picture.status().message());
  REQUIRE(picture.ok());
  return picture.value();
}

}  // namespace

TEST_CASE("a VAE folder given on its own decodes exactly as the checkpoint's VAE", "[pipeline][vae][vae-file]") {
  test_support::DemoModel demo("sdxl_vae_file_test");
  const fs::path dir = test_support::demo_model_dir("sdxl_vae_file_test");
  at::manual_seed(11);
  const at::Tensor latents = at::randn({1, 4, 8, 8});
  const at::Tensor reference = decode(*demo.model, latents);
  // The VAE's own folder (as published: config.json + weights), and a pipeline folder's vae/.
  for (const fs::path& vae : {dir / "vae", dir}) {
    INFO(vae);
    pipeline::ModelSpec spec;
    spec.vae_path = vae;
    auto model = test_support::load_model(dir, *demo.registry, &spec);
    CHECK(model->vae_feature == "kl");
    CHECK(model->vae_source == vae.string());
    CHECK(at::equal(decode(*model, latents), reference));
  }
}

TEST_CASE("a VAE file with the original names loads as the checkpoint's first_stage_model", "[pipeline][vae][vae-file]") {
  const fs::path checkpoint = kGoldenModels / "tiny-sdxl-fp16.safetensors";
  if (!fs::exists(checkpoint)) {
    WARN("SKIPPED: " << checkpoint << " is absent (set SDXL_GOLDEN_DIR)");
    return;
  }
  // sdxl_vae.safetensors-style: the checkpoint's first_stage_model.* without the prefix.
  auto file = io::SafetensorsFile::open(checkpoint);
  REQUIRE(file.ok());
  const std::string prefix = "first_stage_model.";
  std::vector<std::pair<std::string, at::Tensor>> vae_only;
  for (const auto& e : file.value()->entries())
    if (e.name.rfind(prefix, 0) == 0) vae_only.emplace_back(e.name.substr(prefix.size()), file.value()->tensor(e.name).value());
  const fs::path lone = sdxl::test_paths::scratch_dir() / "sdxl_vae_file_test_lone_vae.safetensors";
  REQUIRE(io::write_safetensors(lone, vae_only).ok());

  auto from_checkpoint = pipeline::read_vae_weights(checkpoint);  // a whole checkpoint: its VAE part
  auto from_lone = pipeline::read_vae_weights(lone);
  INFO(from_checkpoint.status().message() << " / " << from_lone.status().message());
  REQUIRE(from_checkpoint.ok());
  REQUIRE(from_lone.ok());
  CHECK(from_lone.value().feature == "kl");
  REQUIRE(from_lone.value().tensors.size() == from_checkpoint.value().tensors.size());
  for (const auto& [name, t] : from_checkpoint.value().tensors) {
    INFO(name);
    REQUIRE(from_lone.value().tensors.count(name));
    CHECK(at::equal(from_lone.value().tensors.at(name), t));
  }
  // And the diffusers folder's VAE (float32) holds the same values to float16 rounding.
  auto folder = pipeline::read_vae_weights(kGoldenModels / "tiny-sdxl" / "vae");
  REQUIRE(folder.ok());
  for (const auto& [name, t] : folder.value().tensors) {
    INFO(name);
    REQUIRE(from_lone.value().tensors.count(name));
    CHECK(at::equal(from_lone.value().tensors.at(name).to(at::kFloat), t.to(at::kHalf).to(at::kFloat)));
  }
  fs::remove(lone);
}

TEST_CASE("a TAESD folder given as the VAE is read by the taesd plugin", "[pipeline][vae][vae-file]") {
  const fs::path taesd = kGoldenModels / "taesdxl-random";
  if (!fs::exists(taesd)) {
    WARN("SKIPPED: " << taesd << " is absent (set SDXL_GOLDEN_DIR)");
    return;
  }
  auto folder = pipeline::read_vae_weights(taesd);
  auto file = pipeline::read_vae_weights(taesd / "diffusion_pytorch_model.safetensors");
  REQUIRE(folder.ok());
  REQUIRE(file.ok());
  CHECK(folder.value().feature == "taesd");
  CHECK(file.value().feature == "taesd");  // by its names: a file has no config

  test_support::DemoModel demo("sdxl_vae_file_test");
  pipeline::ModelSpec spec;
  spec.vae_path = taesd;
  auto model = test_support::load_model(test_support::demo_model_dir("sdxl_vae_file_test"), *demo.registry, &spec);
  CHECK(model->vae_feature == "taesd");
  const at::Tensor picture = decode(*model, at::randn({1, 4, 8, 8}));
  CHECK(picture.sizes() == at::IntArrayRef({1, 3, 64, 64}));
}

TEST_CASE("a VAE of another latent space is refused at load, naming both sides", "[pipeline][vae][vae-file]") {
  test_support::DemoModel demo("sdxl_vae_file_test");
  const fs::path dir = test_support::demo_model_dir("sdxl_vae_file_test");
  auto load_with = [&](const fs::path& vae) {
    pipeline::ModelSpec spec;
    spec.path = dir;
    spec.vae_path = vae;
    return pipeline::SdxlModel::load(spec, *demo.registry);
  };

  SECTION("another scaling factor (SD 1.x's)") {
    const fs::path sd15 = edited_vae_copy(dir, "sdxl_vae_file_test_sd15_scaling", [](nlohmann::json& c) {
      c["scaling_factor"] = 0.18215;
    });
    auto r = load_with(sd15);
    REQUIRE_FALSE(r.ok());
    const std::string m = r.status().message();
    INFO(m);
    CHECK(m.find(sd15.string()) != std::string::npos);
    CHECK(m.find("0.182150") != std::string::npos);
    CHECK(m.find("0.130250") != std::string::npos);
    CHECK(m.find((dir / "vae" / "config.json").string()) != std::string::npos);  // where the model's comes from
  }
  SECTION("another number of latent channels") {
    // The demo VAE rebuilt for 8 latent channels: only the tensors at the latent boundary change.
    const fs::path wide = edited_vae_copy(dir, "sdxl_vae_file_test_8_channels", [](nlohmann::json& c) {
      c["latent_channels"] = 8;
    });
    std::vector<std::pair<std::string, at::Tensor>> resized;
    {
      auto weights = io::SafetensorsFile::open(wide / "diffusion_pytorch_model.safetensors");
      REQUIRE(weights.ok());
      for (const auto& e : weights.value()->entries()) {
        at::Tensor t = weights.value()->tensor(e.name).value();
        std::vector<std::int64_t> shape = t.sizes().vec();
        if (e.name.rfind("encoder.conv_out.", 0) == 0 || e.name.rfind("quant_conv.", 0) == 0) shape[0] = 16;
        if (e.name == "quant_conv.weight") shape[1] = 16;
        if (e.name.rfind("post_quant_conv.", 0) == 0) shape[0] = 8;
        if (e.name == "post_quant_conv.weight" || e.name == "decoder.conv_in.weight") shape[1] = 8;
        // clone(): nothing may keep the old file mapped once it is rewritten
        resized.emplace_back(e.name, shape == t.sizes().vec() ? t.clone() : at::randn(shape).to(t.scalar_type()));
      }
    }
    REQUIRE(io::write_safetensors(wide / "diffusion_pytorch_model.safetensors", resized).ok());
    auto r = load_with(wide);
    REQUIRE_FALSE(r.ok());
    const std::string m = r.status().message();
    INFO(m);
    CHECK(m.find(wide.string()) != std::string::npos);
    CHECK(m.find("8 latent channels") != std::string::npos);
    CHECK(m.find("predicts 4") != std::string::npos);
    CHECK(m.find((dir / "unet").string()) != std::string::npos);  // the UNet's weights named too
  }
  SECTION("a path that is not there") {
    auto r = load_with(dir / "no-such-vae");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find((dir / "no-such-vae").string()) != std::string::npos);
  }
}
