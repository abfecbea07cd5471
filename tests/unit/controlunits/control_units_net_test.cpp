// ControlNet units with the tiny reference networks (../shared/golden/models): residuals of several
// units are the sum of each unit's own ControlNet call, inactive units add nothing, a unit of
// weight 0 leaves the image as without ControlNet, units naming one model share it, and models
// that do not fit the UNet are refused before any step.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "demo_model_fixture.h"
#include "io/safetensors.h"
#include "models/controlnet/controlnet_model.h"
#include "noise/cpu_torch_noise.h"
#include "pipeline/control_units.h"
#include "pipeline/generate.h"
#include "test_paths.h"

using namespace sdxl;
namespace fs = std::filesystem;

namespace {

const fs::path kModels = sdxl::test_paths::golden_models_dir();

bool have_goldens() {
  if (fs::exists(kModels / "controlnet-tiny") && fs::exists(kModels / "cases" / "controlnet.safetensors")) return true;
  WARN("SKIPPED: " << kModels.string() << " (controlnet-tiny, cases) is absent");
  return false;
}

at::Tensor case_tensor(const io::SafetensorsFile& f, const std::string& name) {
  auto t = f.tensor(name);
  REQUIRE(t.ok());
  return t.value().to(at::kFloat).clone();
}

void check_same(const at::Tensor& a, const at::Tensor& b, double atol = 1e-6) {
  REQUIRE(a.sizes() == b.sizes());
  CHECK((a - b).abs().max().item<double>() <= atol);
}

}  // namespace

TEST_CASE("control units: residuals of several units are the sum of their own calls", "[controlunits]") {
  if (!have_goldens()) return;
  auto model = models::shared_controlnet(kModels / "controlnet-tiny", {}, at::kFloat, at::kCPU);
  REQUIRE(model.ok());
  auto file = io::SafetensorsFile::open(kModels / "cases" / "controlnet.safetensors");
  REQUIRE(file.ok());
  const auto& f = *file.value();
  models::UNetInputs in;
  in.sample = case_tensor(f, "sample");
  in.timestep = case_tensor(f, "timestep");
  in.encoder_hidden_states = case_tensor(f, "encoder_hidden_states");
  in.text_embeds = case_tensor(f, "text_embeds");
  in.time_ids = case_tensor(f, "time_ids");
  const at::Tensor picture = case_tensor(f, "controlnet_cond");  // [1, 3, 128, 128] in [0, 1]

  std::vector<pipeline::ControlUnit> units(2);
  units[0].model = model.value();
  units[0].image = picture;
  units[0].scale = 0.8;
  units[1].model = model.value();
  units[1].image = picture.flip({3}).contiguous();
  units[1].scale = 0.3;

  auto alone = [&](const pipeline::ControlUnit& u) {
    models::ControlNetInputs ci;
    ci.sample = in.sample;
    ci.timestep = in.timestep;
    ci.encoder_hidden_states = in.encoder_hidden_states;
    ci.text_embeds = in.text_embeds;
    ci.time_ids = in.time_ids;
    ci.controlnet_cond = u.image;
    ci.conditioning_scale = u.scale;
    auto r = u.model->forward(ci);
    REQUIRE(r.ok());
    return r.value();
  };
  const auto a = alone(units[0]), b = alone(units[1]);
  REQUIRE(a.down.size() == 9);

  auto step = pipeline::make_control_step(units);
  auto both = step(0, 1, in);
  REQUIRE(both.ok());
  REQUIRE(both.value().any);
  REQUIRE(both.value().down.size() == 9);
  for (std::size_t k = 0; k < 9; ++k) check_same(both.value().down[k], a.down[k] + b.down[k]);
  check_same(both.value().mid, a.mid + b.mid);

  // Unit 1 only from the second half: at call 0 of 2 only unit 0 contributes, at call 1 both.
  units[1].guidance_start = 0.5;
  auto first = step(0, 2, in);
  REQUIRE(first.ok());
  for (std::size_t k = 0; k < 9; ++k) check_same(first.value().down[k], a.down[k]);
  check_same(first.value().mid, a.mid);
  auto second = step(1, 2, in);
  REQUIRE(second.ok());
  check_same(second.value().mid, a.mid + b.mid);
  // No unit active: nothing for the UNet.
  units[0].guidance_end = 0.4;
  auto none = step(0, 2, in);
  REQUIRE(none.ok());
  CHECK_FALSE(none.value().any);
  CHECK(none.value().down.empty());

  // CFG rows: the picture is repeated to the batch; each row equals the one-row call.
  units[0].guidance_end = 1.0;
  units[1].guidance_start = 0.0;
  models::UNetInputs two = in;
  two.sample = at::cat({in.sample, in.sample});
  two.timestep = in.timestep.expand({2});
  two.encoder_hidden_states = at::cat({in.encoder_hidden_states, in.encoder_hidden_states});
  two.text_embeds = at::cat({in.text_embeds, in.text_embeds});
  two.time_ids = at::cat({in.time_ids, in.time_ids});
  auto rows = step(0, 1, two);
  REQUIRE(rows.ok());
  check_same(rows.value().mid.slice(0, 1, 2), a.mid + b.mid, 1e-5);

  // Each unit's cross-attention keys and values are made once for a context and made again when
  // the context changes: here edited in place between calls (another prompt's numbers).
  two.encoder_hidden_states.mul_(0.5);
  auto edited = step(0, 1, two);
  INFO(edited.status().message());
  REQUIRE(edited.ok());
  CHECK_FALSE(at::allclose(edited.value().mid, rows.value().mid));
  models::UNetInputs half = in;
  half.encoder_hidden_states = in.encoder_hidden_states * 0.5;
  auto expected = step(0, 1, half);
  REQUIRE(expected.ok());
  check_same(edited.value().mid.slice(0, 1, 2), expected.value().mid, 1e-5);
}

TEST_CASE("control units: weight 0 is no ControlNet, units naming one model share it", "[controlunits]") {
  if (!have_goldens()) return;
  auto reg = test_support::built_plugins();
  const auto model = test_support::load_model(kModels / "tiny-sdxl", *reg);

  pipeline::ControlUnitRequest r;
  r.model = (kModels / "controlnet-tiny").string();
  r.image = at::zeros({128, 128, 3}, at::kByte);
  r.image.slice(0, 32, 96).slice(1, 32, 96).fill_(255);  // resized to 64x64 by crop and resize
  r.scale = 0.0;
  pipeline::ControlUnitRequest strong = r;
  strong.scale = 1.0;
  auto units = pipeline::resolve_control_units({r, strong}, *model->unet, *reg, 64, 64);
  REQUIRE(units.ok());
  CHECK(units.value()[0].model.get() == units.value()[1].model.get());  // one copy of the weights

  auto run = [&](std::vector<pipeline::ControlUnit> controls) {
    pipeline::GenerateRequest req;
    req.prompts.prompts = {"a red door"};
    req.width = req.height = 64;
    req.steps = 2;
    req.controls = std::move(controls);
    noise::CpuTorchNoise noise(7);
    pipeline::JobHooks hooks;
    hooks.noise = &noise;
    auto res = pipeline::generate(*model, *reg, req, hooks);
    REQUIRE(res.ok());
    return res.value();
  };
  const auto plain = run({});
  const auto zero = run({units.value()[0]});
  const auto weighted = run({units.value()[1]});
  check_same(zero.latents, plain.latents);
  CHECK((weighted.latents - plain.latents).abs().max().item<double>() > 1e-3);
  CHECK(weighted.seconds.controlnet > 0);
  CHECK(plain.seconds.controlnet == 0);

  // A control picture of another size than the request is refused before any step.
  pipeline::GenerateRequest wrong;
  wrong.prompts.prompts = {"x"};
  wrong.width = wrong.height = 128;
  wrong.controls = {units.value()[1]};
  auto st = pipeline::validate_request(wrong);
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(st.message(), Catch::Contains("control unit 0"));
}

TEST_CASE("control units: a model that does not fit the UNet is refused with its file name", "[controlunits]") {
  if (!have_goldens()) return;
  std::ifstream cfg_file(kModels / "tiny-sdxl" / "unet" / "config.json");
  nlohmann::json j = nlohmann::json::parse(cfg_file);
  j["cross_attention_dim"] = 32;  // another text-encoder width: the ControlNet cannot serve it
  auto cfg = models::UNetConfig::from_diffusers_json(j, "test unet");
  REQUIRE(cfg.ok());
  auto shapes = models::UNet2DConditionModel::parameter_shapes(cfg.value());
  REQUIRE(shapes.ok());
  std::map<std::string, at::Tensor> weights;
  for (const auto& [name, shape] : shapes.value()) weights[name] = at::zeros(shape);
  auto unet = models::UNet2DConditionModel::load(weights, cfg.value(), "test unet", at::kFloat, at::kCPU);
  REQUIRE(unet.ok());

  plugins::PluginRegistry empty;
  pipeline::ControlUnitRequest r;
  r.model = (kModels / "controlnet-tiny").string();
  r.image = at::zeros({64, 64, 3}, at::kByte);
  auto units = pipeline::resolve_control_units({r}, *unet.value(), empty, 64, 64);
  REQUIRE_FALSE(units.ok());
  CHECK_THAT(units.status().message(),
             Catch::Contains("control unit 0") && Catch::Contains("controlnet-tiny") && Catch::Contains("cross_attention_dim"));

  // A file that is not a ControlNet at all (the UNet's own weights).
  const fs::path not_cn = kModels / "tiny-sdxl" / "unet" / "diffusion_pytorch_model.safetensors";
  r.model = not_cn.string();
  auto wrong = pipeline::resolve_control_units({r}, *unet.value(), empty, 64, 64);
  REQUIRE_FALSE(wrong.ok());
  CHECK_THAT(wrong.status().message(), Catch::Contains("control unit 0") && Catch::Contains(not_cn.string()));
}
