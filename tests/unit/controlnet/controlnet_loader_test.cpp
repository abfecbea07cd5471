// Loader refusals: missing paths, files that are not ControlNets, unknown tensors, missing
// configs, and ControlNets whose structure does not fit the UNet they would be used with.
#include "controlnet_test_util.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "models/controlnet/controlnet_loader.h"
#include "models/loader/checkpoint.h"

using namespace sdxl;
using namespace cn_test;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

models::UNetConfig tiny_unet_config() {
  std::ifstream in(kModels / "tiny-sdxl" / "unet" / "config.json");
  auto cfg = models::UNetConfig::from_diffusers_json(nlohmann::json::parse(in), "tiny unet config");
  REQUIRE(cfg.ok());
  return cfg.value();
}

nlohmann::json folder_config() {
  std::ifstream in(kFolder / "config.json");
  return nlohmann::json::parse(in);
}

// A ControlNet folder with random weights for `config` (every tensor the model needs).
void write_random_controlnet(const fs::path& dir, const nlohmann::json& config) {
  auto cfg = models::ControlNetConfig::from_diffusers_json(config, "test config");
  REQUIRE(cfg.ok());
  auto shapes = models::ControlNetModel::parameter_shapes(*cfg);
  REQUIRE(shapes.ok());
  at::manual_seed(0);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, shape] : *shapes) tensors.emplace_back(name, at::randn(shape) * 0.05);
  fs::create_directories(dir);
  REQUIRE(io::write_safetensors(dir / "diffusion_pytorch_model.safetensors", tensors).ok());
  std::ofstream(dir / "config.json") << config.dump(2);
}

}  // namespace

TEST_CASE("loader: a missing path is not_found naming it", "[controlnet][errors]") {
  auto r = models::ControlNetModel::load("/nonexistent/cn.safetensors", {}, at::kFloat, at::kCPU);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == sdk::StatusCode::not_found);
  CHECK(contains(r.status().message(), "/nonexistent/cn.safetensors"));
}

TEST_CASE("loader: UNet files and folders are refused as not a ControlNet", "[controlnet][errors]") {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return;
  }
  for (const fs::path& p : {kModels / "tiny-sdxl-fp16.safetensors", kModels / "tiny-sdxl" / "unet",
                            kModels / "tiny-sdxl" / "unet" / "diffusion_pytorch_model.safetensors"}) {
    auto r = models::ControlNetModel::load(p, {}, at::kFloat, at::kCPU);
    INFO(p << ": " << r.status().message());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == sdk::StatusCode::invalid_argument);
    CHECK(contains(r.status().message(), "not a ControlNet"));
    CHECK(contains(r.status().message(), p.string()));
  }
}

TEST_CASE("loader: an unknown tensor in a cldm file is named", "[controlnet][errors]") {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return;
  }
  ScratchDir dir;
  auto f = io::SafetensorsFile::open(kCldm);
  REQUIRE(f.ok());
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& e : (*f)->entries()) out.emplace_back(e.name, (*f)->tensor(e.name).value());
  out.emplace_back("surprise_block.0.weight", at::zeros({4, 4}, at::kHalf));
  const fs::path file = dir.path / "extra.safetensors";
  REQUIRE(io::write_safetensors(file, out).ok());
  auto r = models::read_controlnet_weights(file, kFolder);
  REQUIRE_FALSE(r.ok());
  CHECK(contains(r.status().message(), "surprise_block.0.weight"));
  CHECK(contains(r.status().message(), file.string()));
}

TEST_CASE("loader: config folders that hold no config, and tiny files without one", "[controlnet][errors]") {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return;
  }
  ScratchDir dir;
  auto r = models::ControlNetModel::load(kCldm, dir.path, at::kFloat, at::kCPU);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == sdk::StatusCode::not_found);
  CHECK(contains(r.status().message(), dir.path.string()));
  // Without a config the tiny model's add_embedding width (32 + 6 x 8) does not follow SDXL's
  // 1280 + n x 256: the loader asks for a config instead of guessing.
  auto inferred = models::ControlNetModel::load(kCldm, {}, at::kFloat, at::kCPU);
  REQUIRE_FALSE(inferred.ok());
  CHECK(contains(inferred.status().message(), "--model-config"));
  CHECK(contains(inferred.status().message(), kCldm.string()));
}

TEST_CASE("loader: a config that does not match the weights names the tensor", "[controlnet][errors]") {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return;
  }
  ScratchDir dir;
  auto cfg = folder_config();
  cfg["conditioning_embedding_out_channels"] = {16, 32, 96, 128};
  std::ofstream(dir.path / "config.json") << cfg.dump();
  auto r = models::ControlNetModel::load(kCldm, dir.path, at::kFloat, at::kCPU);
  REQUIRE_FALSE(r.ok());
  CHECK(contains(r.status().message(), "controlnet_cond_embedding"));
  CHECK(contains(r.status().message(), kCldm.string()));
}

TEST_CASE("check_compatible accepts its UNet and refuses another structure", "[controlnet][errors]") {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return;
  }
  const auto unet = tiny_unet_config();
  auto good = models::ControlNetModel::load(kFolder, {}, at::kFloat, at::kCPU);
  REQUIRE(good.ok());
  CHECK((*good)->check_compatible(unet, "tiny-sdxl").ok());

  // A loadable ControlNet built for wider levels (64, 64, 64) than the tiny UNet's (32, 64, 64).
  ScratchDir dir;
  auto cfg = folder_config();
  cfg["block_out_channels"] = {64, 64, 64};
  write_random_controlnet(dir.path / "wide-cn", cfg);
  auto wide = models::ControlNetModel::load(dir.path / "wide-cn", {}, at::kFloat, at::kCPU);
  INFO(wide.status().message());
  REQUIRE(wide.ok());
  auto st = (*wide)->check_compatible(unet, "tiny-sdxl");
  REQUIRE_FALSE(st.ok());
  CHECK(contains(st.message(), "wide-cn"));
  CHECK(contains(st.message(), "tiny-sdxl"));
  CHECK(contains(st.message(), "block_out_channels"));

  // Same widths, another text-encoder context width.
  auto other = unet;
  other.cross_attention_dim = 2048;
  auto st2 = (*good)->check_compatible(other, "an SDXL UNet");
  REQUIRE_FALSE(st2.ok());
  CHECK(contains(st2.message(), "cross_attention_dim"));
}

TEST_CASE("loader: a single file without config gets its architecture from the shapes (SDXL conventions)",
          "[controlnet]") {
  // A small ControlNet that follows SDXL's conventions (64-channel heads, 1280-wide pooled
  // embedding + 6 time ids x 256), written once as a folder (with config) and once as a lone file.
  const nlohmann::json config = {
      {"_class_name", "ControlNetModel"}, {"block_out_channels", {64, 128}}, {"layers_per_block", 1},
      {"transformer_layers_per_block", {1, 2}}, {"attention_head_dim", {1, 2}},
      {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D"}}, {"cross_attention_dim", 32},
      {"addition_time_embed_dim", 256}, {"projection_class_embeddings_input_dim", 1280 + 6 * 256},
      {"conditioning_embedding_out_channels", {16, 32}}, {"in_channels", 4}};
  ScratchDir dir;
  write_random_controlnet(dir.path / "folder", config);
  const fs::path lone = dir.path / "lone.safetensors";
  fs::copy_file(dir.path / "folder" / "diffusion_pytorch_model.safetensors", lone);

  auto w = models::read_controlnet_weights(lone);
  REQUIRE(w.ok());
  CHECK(contains(w->config_source, "inferred"));
  auto inferred = models::ControlNetConfig::from_diffusers_json(w->config, w->config_source);
  auto given = models::ControlNetConfig::from_diffusers_json(config, "given");
  REQUIRE(inferred.ok());
  REQUIRE(given.ok());
  CHECK(inferred->cond_embedding_channels == given->cond_embedding_channels);
  CHECK(inferred->unet.block_out_channels == given->unet.block_out_channels);
  CHECK(inferred->unet.layers_per_block == 1);
  CHECK(inferred->unet.transformer_layers == given->unet.transformer_layers);
  CHECK(inferred->unet.mid_transformer_layers == 2);
  CHECK(inferred->unet.heads == given->unet.heads);
  CHECK(inferred->unet.addition_time_embed_dim == 256);
  CHECK(inferred->unet.cross_attention_dim == 32);

  auto a = models::ControlNetModel::load(dir.path / "folder", {}, at::kFloat, at::kCPU);
  auto b = models::ControlNetModel::load(lone, {}, at::kFloat, at::kCPU);
  REQUIRE(a.ok());
  INFO(b.status().message());
  REQUIRE(b.ok());
  models::ControlNetInputs in;
  at::manual_seed(1);
  in.sample = at::randn({1, 4, 8, 8});
  in.timestep = at::tensor({300.0f});
  in.encoder_hidden_states = at::randn({1, 5, 32});
  in.text_embeds = at::randn({1, 1280});
  in.time_ids = at::tensor({64.0f, 64.0f, 0.0f, 0.0f, 64.0f, 64.0f}).reshape({1, 6});
  in.controlnet_cond = at::rand({1, 3, 16, 16});  // cond embedding with one stride-2 step: 2x the latent
  auto ra = (*a)->forward(in);
  auto rb = (*b)->forward(in);
  REQUIRE(ra.ok());
  INFO(rb.status().message());
  REQUIRE(rb.ok());
  REQUIRE(ra->down.size() == 4);  // conv_in + 1 resnet + downsampler + 1 resnet
  for (std::size_t i = 0; i < ra->down.size(); ++i) CHECK(at::equal(ra->down[i], rb->down[i]));
  CHECK(at::equal(ra->mid, rb->mid));
}
