// load_checkpoint on the tiny SDXL model in both layouts, the error paths, and a sparse
// full-size SDXL base single file (real names/shapes, no data on disk).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <fstream>

#include "full_layouts.h"
#include "models/loader/checkpoint.h"
#include "models/unet/unet_model.h"
#include "test_paths.h"

using namespace sdxl;
namespace fs = std::filesystem;
namespace ld = sdxl::models::loader;

namespace {

bool have_tiny() {
  if (fs::exists(testing::kGoldenModels / "tiny-sdxl-fp16.safetensors")) return true;
  WARN("tiny SDXL models not found, skipping");
  return false;
}

fs::path tmp_file(const std::string& name) { return sdxl::test_paths::scratch_dir() / ("sdxl_loader_test_" + name); }

}  // namespace

TEST_CASE("checkpoint: the fp16 single file holds exactly the diffusers folder's values", "[loader]") {
  if (!have_tiny()) return;
  auto folder = ld::load_checkpoint(testing::kGoldenModels / "tiny-sdxl");
  INFO(folder.status().message());
  REQUIRE(folder.ok());
  CHECK(folder->layout == ld::Layout::diffusers_folder);
  ld::LoadOptions with_config;
  with_config.model_config = testing::kGoldenModels / "tiny-sdxl";
  auto single = ld::load_checkpoint(testing::kGoldenModels / "tiny-sdxl-fp16.safetensors", with_config);
  INFO(single.status().message());
  REQUIRE(single.ok());
  CHECK(single->layout == ld::Layout::single_file);
  CHECK(single->ignored.size() == 2);  // position_ids, logit_scale

  const std::map<std::string, std::size_t> counts = {{"unet", 618}, {"vae", 244}, {"text_encoder", 68}, {"text_encoder_2", 69}};
  for (const auto& [name, count] : counts) {
    INFO(name);
    auto a = folder->component(name);
    auto b = single->component(name);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK((*a)->tensors.size() == count);
    REQUIRE((*b)->tensors.size() == count);
    // Every weight is exactly representable in float16 (README 2.1): values must be identical,
    // which checks the q/k/v split, the transpose, the 1x1 reshape and the reversed VAE numbering.
    for (const auto& [key, t] : (*a)->tensors) {
      INFO(key);
      auto it = (*b)->tensors.find(key);
      REQUIRE(it != (*b)->tensors.end());
      CHECK(it->second.scalar_type() == at::kHalf);
      CHECK(at::equal(it->second.to(at::kFloat), t));
    }
    CHECK((*b)->config == (*a)->config);  // from --model-config
    CHECK((*a)->bytes == 2 * (*b)->bytes);  // F32 vs F16
  }
}

TEST_CASE("checkpoint: single file configs are inferred without --model-config", "[loader]") {
  if (!have_tiny()) return;
  auto single = ld::load_checkpoint(testing::kGoldenModels / "tiny-sdxl-fp16.safetensors");
  INFO(single.status().message());
  REQUIRE(single.ok());
  const auto& unet = single->components.at("unet");
  CHECK(unet.config.at("block_out_channels") == nlohmann::json({32, 64, 64}));
  CHECK(unet.config.at("addition_time_embed_dim") == 8);  // 80 = 32 pooled + 6 x 8
  CHECK(unet.config.at("cross_attention_dim") == 64);
  CHECK(unet.config.at("transformer_layers_per_block") == nlohmann::json({1, 1, 2}));
  CHECK(unet.config_source.find("inferred") != std::string::npos);
  CHECK(single->components.at("vae").config.at("block_out_channels") == nlohmann::json({32, 64, 64, 64}));
}

TEST_CASE("checkpoint: component selection and clear errors", "[loader]") {
  if (!have_tiny()) return;
  ld::LoadOptions vae_only;
  vae_only.components = {"vae"};
  auto v = ld::load_checkpoint(testing::kGoldenModels / "tiny-sdxl-fp16.safetensors", vae_only);
  REQUIRE(v.ok());
  CHECK(v->components.size() == 1);
  CHECK_FALSE(v->component("unet").ok());

  auto missing = ld::load_checkpoint(testing::kGoldenModels / "no-such-model");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == sdk::StatusCode::not_found);

  ld::LoadOptions unet_only;
  unet_only.components = {"unet"};
  auto no_unet = ld::load_checkpoint(testing::kGoldenModels / "taesdxl-random", unet_only);
  REQUIRE_FALSE(no_unet.ok());
  CHECK(no_unet.status().message().find("taesdxl-random") != std::string::npos);

  ld::LoadOptions bogus;
  bogus.components = {"unet_3"};
  CHECK_FALSE(ld::load_checkpoint(testing::kGoldenModels / "tiny-sdxl", bogus).ok());

  // A ControlNet file is not an SDXL checkpoint: the first unknown key is named.
  auto cn = ld::load_checkpoint(testing::kGoldenModels / "controlnet-tiny-cldm.safetensors");
  REQUIRE_FALSE(cn.ok());
  CHECK(cn.status().message().find("unknown tensor") != std::string::npos);

  // Truncated copy of the single file.
  const fs::path cut = tmp_file("truncated.safetensors");
  {
    std::ifstream in(testing::kGoldenModels / "tiny-sdxl-fp16.safetensors", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(cut, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  auto t = ld::load_checkpoint(cut);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == sdk::StatusCode::corrupt_data);
  CHECK(t.status().message().find(cut.string()) != std::string::npos);
  fs::remove(cut);

  // A wrong --model-config (the VAE-less TAESD folder has no unet config; a mismatched one fails).
  ld::LoadOptions wrong_cfg;
  wrong_cfg.model_config = testing::kGoldenModels / "no-such-folder";
  CHECK_FALSE(ld::load_checkpoint(testing::kGoldenModels / "tiny-sdxl-fp16.safetensors", wrong_cfg).ok());
}

TEST_CASE("checkpoint: unsupported dtypes and stray keys are reported by name", "[loader]") {
  const fs::path p = tmp_file("fp8.safetensors");
  auto conv = at::zeros({4, 4, 1, 1}, at::kHalf);
  REQUIRE(io::write_safetensors(p, {{"model.diffusion_model.input_blocks.0.0.weight", conv}}).ok());
  // Rewrite the dtype in the header to an 8-bit float of the same byte count (F16 -> 2x F8 elements).
  {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), {});
    auto pos = bytes.find("\"F16\"");
    REQUIRE(pos != std::string::npos);
    auto shape = bytes.find("[4,4,1,1]");
    REQUIRE(shape != std::string::npos);
    bytes.replace(shape, 9, "[8,4,1,1]");
    bytes.replace(pos, 5, "\"F8_E4M3\"");
    // keep the header length field consistent: pad/trim spaces is not possible here, so rebuild
    std::uint64_t old_len = 0;
    for (int i = 0; i < 8; ++i) old_len |= std::uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
    std::uint64_t new_len = old_len + 4;
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(new_len >> (8 * i));
    f.close();
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto r = ld::load_checkpoint(p);
  REQUIRE_FALSE(r.ok());
  INFO(r.status().message());
  CHECK(r.status().message().find("input_blocks.0.0.weight") != std::string::npos);
  fs::remove(p);
}

TEST_CASE("checkpoint: sparse full-size SDXL base single file -> fp16 UNet without copies", "[loader][unet]") {
  const auto* layouts = testing::full_layouts();
  if (!layouts) return;
  const auto& model = (*layouts)["models"]["sdxl-base-1.0"];
  const fs::path p = tmp_file("sdxl_base_sparse.safetensors");
  REQUIRE(testing::write_sparse_single_file(p, model));
  auto ck = ld::load_checkpoint(p);
  INFO(ck.status().message());
  REQUIRE(ck.ok());
  const auto bytes = ck->bytes_per_component();
  const auto& prefixes = model["single_file"]["prefixes"];
  CHECK(bytes.at("unet") == prefixes["model.diffusion_model."]["bytes"].get<std::uint64_t>());
  CHECK(bytes.at("vae") == prefixes["first_stage_model."]["bytes"].get<std::uint64_t>());
  CHECK(bytes.at("text_encoder") == prefixes["conditioner.embedders.0.transformer."]["bytes"].get<std::uint64_t>() - 77 * 8);
  CHECK(bytes.at("text_encoder_2") == prefixes["conditioner.embedders.1.model."]["bytes"].get<std::uint64_t>() - 2);
  const auto& unet = ck->components.at("unet");
  CHECK(unet.config.at("attention_head_dim") == nlohmann::json({5, 10, 20}));
  auto config = models::UNetConfig::from_diffusers_json(unet.config, unet.config_source);
  REQUIRE(config.ok());
  auto net = models::UNet2DConditionModel::load(unet.tensors, *config, unet.source, at::kHalf, at::kCPU);
  INFO(net.status().message());
  REQUIRE(net.ok());
  CHECK((*net)->resident_bytes() == bytes.at("unet"));
  fs::remove(p);
}

TEST_CASE("checkpoint: a lone diffusers weights file is taken as that component", "[loader]") {
  if (!have_tiny()) return;
  // The tiny UNet's add-embedding width cannot be split without the pooled width: needs a config.
  auto no_cfg = ld::load_checkpoint(testing::kGoldenModels / "tiny-sdxl/unet/diffusion_pytorch_model.safetensors");
  REQUIRE_FALSE(no_cfg.ok());
  CHECK(no_cfg.status().message().find("--model-config") != std::string::npos);
  ld::LoadOptions o;
  o.model_config = testing::kGoldenModels / "tiny-sdxl";
  auto unet = ld::load_checkpoint(testing::kGoldenModels / "tiny-sdxl/unet/diffusion_pytorch_model.safetensors", o);
  INFO(unet.status().message());
  REQUIRE(unet.ok());
  REQUIRE(unet->components.size() == 1);
  CHECK(unet->components.at("unet").tensors.size() == 618);
  auto vae = ld::load_checkpoint(testing::kGoldenModels / "tiny-sdxl/vae/diffusion_pytorch_model.safetensors");
  REQUIRE(vae.ok());
  CHECK(vae->components.at("vae").tensors.size() == 244);
  CHECK(vae->components.at("vae").config.at("block_out_channels") == nlohmann::json({32, 64, 64, 64}));
}

TEST_CASE("checkpoint: diffusers folders with only the .fp16 variant, or sharded weights", "[loader]") {
  if (!have_tiny()) return;
  auto src = ld::load_checkpoint(testing::kGoldenModels / "tiny-sdxl");
  REQUIRE(src.ok());
  const auto& unet = src->components.at("unet");
  const fs::path root = tmp_file("folder");
  fs::remove_all(root);
  fs::create_directories(root / "unet");
  fs::create_directories(root / "vae");
  fs::copy_file(testing::kGoldenModels / "tiny-sdxl/unet/config.json", root / "unet/config.json");
  fs::copy_file(testing::kGoldenModels / "tiny-sdxl/vae/config.json", root / "vae/config.json");
  // unet: only diffusion_pytorch_model.fp16.safetensors
  std::vector<std::pair<std::string, at::Tensor>> half;
  for (const auto& [k, t] : unet.tensors) half.emplace_back(k, t.to(at::kHalf));
  REQUIRE(io::write_safetensors(root / "unet/diffusion_pytorch_model.fp16.safetensors", half).ok());
  // vae: two shards and an index
  const auto& vae = src->components.at("vae");
  std::vector<std::pair<std::string, at::Tensor>> a, b;
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  for (const auto& [k, t] : vae.tensors) {
    const bool first = k < "decoder.up";
    (first ? a : b).emplace_back(k, t);
    index["weight_map"][k] = first ? "diffusion_pytorch_model-00001-of-00002.safetensors"
                                   : "diffusion_pytorch_model-00002-of-00002.safetensors";
  }
  REQUIRE(io::write_safetensors(root / "vae/diffusion_pytorch_model-00001-of-00002.safetensors", a).ok());
  REQUIRE(io::write_safetensors(root / "vae/diffusion_pytorch_model-00002-of-00002.safetensors", b).ok());
  std::ofstream(root / "vae/diffusion_pytorch_model.safetensors.index.json") << index.dump();

  auto ck = ld::load_checkpoint(root);
  INFO(ck.status().message());
  REQUIRE(ck.ok());
  const auto& u = ck->components.at("unet");
  REQUIRE(u.tensors.size() == unet.tensors.size());
  for (const auto& [k, t] : u.tensors) {
    CHECK(t.scalar_type() == at::kHalf);
    CHECK(at::equal(t.to(at::kFloat), unet.tensors.at(k)));
  }
  const auto& v = ck->components.at("vae");
  REQUIRE(v.tensors.size() == vae.tensors.size());
  for (const auto& [k, t] : v.tensors) CHECK(at::equal(t, vae.tensors.at(k)));
  CHECK(v.bytes == vae.bytes);
  fs::remove_all(root);
}
