// The UNet's ControlNet inputs: the reference ControlNet residuals of cases/controlnet.safetensors
// fed into our UNet must reproduce the reference eps (and without them, eps_without_controlnet).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "golden/compare.h"
#include "models/loader/checkpoint.h"
#include "models/unet/unet_model.h"
#include "test_paths.h"

namespace fs = std::filesystem;
using namespace sdxl;

namespace {

const fs::path kModels = sdxl::test_paths::golden_models_dir();

std::shared_ptr<models::UNet2DConditionModel> tiny_unet(c10::ScalarType dtype = at::kFloat) {
  models::loader::LoadOptions lo;
  lo.components = {"unet"};
  auto ck = models::loader::load_checkpoint(kModels / "tiny-sdxl", lo);
  REQUIRE(ck.ok());
  const auto& w = ck->components.at("unet");
  auto cfg = models::UNetConfig::from_diffusers_json(w.config, w.config_source);
  REQUIRE(cfg.ok());
  auto unet = models::UNet2DConditionModel::load(w.tensors, *cfg, w.source, dtype, at::kCPU);
  INFO(unet.status().message());
  REQUIRE(unet.ok());
  return unet.value();
}

}  // namespace

TEST_CASE("unet: ControlNet residuals from the reference reproduce its eps", "[unet][golden]") {
  const fs::path file = kModels / "cases" / "controlnet.safetensors";
  if (!fs::exists(file)) {
    WARN("controlnet case not found, skipping");
    return;
  }
  auto f = io::SafetensorsFile::open(file);
  REQUIRE(f.ok());
  auto t = [&](const std::string& n) {
    auto r = (*f)->tensor(n);
    REQUIRE(r.ok());
    return r.value();
  };
  auto unet = tiny_unet();
  models::UNetInputs in;
  in.sample = t("sample");
  in.timestep = t("timestep");
  in.encoder_hidden_states = t("encoder_hidden_states");
  in.text_embeds = t("text_embeds");
  in.time_ids = t("time_ids");
  auto plain = unet->forward(in);
  REQUIRE(plain.ok());
  auto d0 = golden::compare_tensors(*plain, t("eps_without_controlnet"), 2e-4, 1e-4);
  INFO(golden::describe("eps_without_controlnet", d0));
  CHECK(d0.ok);

  for (int i = 0; i < 9; ++i) in.down_residuals.push_back(t("down_residual." + std::to_string(i)));
  in.mid_residual = t("mid_residual");
  auto with = unet->forward(in);
  REQUIRE(with.ok());
  auto d1 = golden::compare_tensors(*with, t("eps"), 2e-4, 1e-4);
  INFO(golden::describe("eps", d1));
  CHECK(d1.ok);

  // Wrong residual count: an error, not a crash.
  in.down_residuals.pop_back();
  auto bad = unet->forward(in);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("residuals") != std::string::npos);
}

TEST_CASE("unet: input validation and batch/row independence", "[unet]") {
  if (!fs::exists(kModels / "tiny-sdxl")) return;
  auto unet = tiny_unet();
  at::manual_seed(0);
  models::UNetInputs in;
  in.sample = at::randn({3, 4, 8, 12});
  in.timestep = at::tensor({10.f, 500.f, 999.f});
  in.encoder_hidden_states = at::randn({3, 77, 64});
  in.text_embeds = at::randn({3, 32});
  in.time_ids = at::tensor({64.f, 96.f, 0.f, 0.f, 64.f, 96.f}).repeat({3, 1});
  auto all = unet->forward(in);
  REQUIRE(all.ok());
  CHECK(all->sizes() == at::IntArrayRef({3, 4, 8, 12}));
  // Row 1 alone gives the same result as inside the batch (no cross-row mixing).
  models::UNetInputs one = in;
  one.sample = in.sample.narrow(0, 1, 1);
  one.timestep = in.timestep.narrow(0, 1, 1);
  one.encoder_hidden_states = in.encoder_hidden_states.narrow(0, 1, 1);
  one.text_embeds = in.text_embeds.narrow(0, 1, 1);
  one.time_ids = in.time_ids.narrow(0, 1, 1);
  auto single = unet->forward(one);
  REQUIRE(single.ok());
  // Different batch sizes may pick different kernels (float32 rounding); mixing would be O(1).
  const double row_diff = (*single - all->narrow(0, 1, 1)).abs().max().item<double>();
  INFO("max |single - batched| = " << row_diff);
  CHECK(row_diff < 1e-4);
  // A scalar timestep is broadcast to the batch.
  models::UNetInputs scalar_t = in;
  scalar_t.timestep = at::scalar_tensor(500.f);
  models::UNetInputs vector_t = in;
  vector_t.timestep = at::full({3}, 500.f);
  CHECK(at::equal(unet->forward(scalar_t).value(), unet->forward(vector_t).value()));

  models::UNetInputs bad = in;
  bad.encoder_hidden_states = at::randn({3, 77, 65});
  CHECK_FALSE(unet->forward(bad).ok());
  bad = in;
  bad.time_ids = at::randn({3, 5});
  CHECK_FALSE(unet->forward(bad).ok());
  bad = in;
  bad.sample = at::randn({3, 9, 8, 8});
  CHECK_FALSE(unet->forward(bad).ok());
}

TEST_CASE("unet: odd latent sizes upsample to the skip size (diffusers upsample_size)", "[unet]") {
  if (!fs::exists(kModels / "tiny-sdxl")) return;
  auto unet = tiny_unet();
  models::UNetInputs in;
  in.sample = at::randn({1, 4, 10, 7});
  in.timestep = at::tensor({300.f});
  in.encoder_hidden_states = at::randn({1, 77, 64});
  in.text_embeds = at::randn({1, 32});
  in.time_ids = at::tensor({80.f, 56.f, 0.f, 0.f, 80.f, 56.f}).reshape({1, 6});
  auto eps = unet->forward(in);
  INFO(eps.status().message());
  REQUIRE(eps.ok());
  CHECK(eps->sizes() == at::IntArrayRef({1, 4, 10, 7}));
}
