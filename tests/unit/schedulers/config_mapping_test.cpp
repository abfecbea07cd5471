// diffusers scheduler_config.json → feature + options, name/alias resolution, and the errors
// users see for unknown samplers and bad parameters.
#include <catch2/catch.hpp>

#include "scheduler_test_support.h"
#include "schedulers/diffusers_config.h"
#include "schedulers/names.h"
#include "schedulers/sampling_params.h"

using namespace sdxl;
using nlohmann::json;

namespace {
std::string feature_of(const json& cfg, const json& kwargs = json::object()) {
  auto r = schedulers::from_diffusers_config(cfg, "", kwargs);
  return r.ok() ? r.value().feature : "error: " + r.status().message();
}
std::vector<sdk::FeatureInfo> all_features() {
  std::vector<sdk::FeatureInfo> f;
  for (auto& p : test::scheduler_plugins())
    for (const auto& i : p->info().features) f.push_back(i);
  return f;
}
}  // namespace

TEST_CASE("diffusers classes map to features", "[schedulers][config]") {
  CHECK(feature_of({{"_class_name", "EulerDiscreteScheduler"}}) == "euler");
  CHECK(feature_of({{"_class_name", "EulerDiscreteScheduler"}, {"use_karras_sigmas", true}}) == "euler_karras");
  CHECK(feature_of({{"_class_name", "EulerAncestralDiscreteScheduler"}, {"use_karras_sigmas", true}}) == "euler_a");
  CHECK(feature_of({{"_class_name", "DPMSolverMultistepScheduler"}}) == "dpmpp_2m");
  CHECK(feature_of({{"_class_name", "DPMSolverMultistepScheduler"}, {"solver_order", 3}}) == "dpmpp_3m");
  CHECK(feature_of({{"_class_name", "DPMSolverMultistepScheduler"},
                    {"algorithm_type", "sde-dpmsolver++"},
                    {"use_karras_sigmas", true}}) == "dpmpp_2m_sde_karras");
  CHECK(feature_of({{"_class_name", "KDPM2AncestralDiscreteScheduler"}}) == "dpm2_a");
  CHECK(feature_of({{"_class_name", "UniPCMultistepScheduler"}}) == "unipc");
  CHECK(feature_of({{"_class_name", "TCDScheduler"}}) == "tcd");

  auto r = schedulers::from_diffusers_config({{"_class_name", "DDIMScheduler"}, {"timestep_spacing", "trailing"},
                                              {"steps_offset", 1}, {"beta_start", 0.001}},
                                             "", {{"eta", 0.25}});
  REQUIRE(r.ok());
  CHECK(r.value().options.get_string("timestep_spacing") == "trailing");
  CHECK(r.value().options.get_number("eta") == Approx(0.25));
  CHECK(r.value().options.get_number("beta_start") == Approx(0.001));
}

TEST_CASE("unsupported diffusers settings are refused by name", "[schedulers][config]") {
  CHECK(feature_of({{"_class_name", "FancyScheduler"}}).find("DDIMScheduler") != std::string::npos);
  CHECK(feature_of({{"_class_name", "DDIMScheduler"}, {"thresholding", true}}).find("thresholding") !=
        std::string::npos);
  CHECK(feature_of({{"_class_name", "DPMSolverMultistepScheduler"}, {"algorithm_type", "dpmsolver"}})
            .find("algorithm_type") != std::string::npos);
  CHECK(feature_of({{"_class_name", "PNDMScheduler"}, {"skip_prk_steps", false}}).find("skip_prk_steps") !=
        std::string::npos);
}

TEST_CASE("options fitted to a schema drop unknown keys and convert numbers", "[schedulers][config]") {
  auto r = schedulers::from_diffusers_config(
      {{"_class_name", "EulerDiscreteScheduler"}, {"num_train_timesteps", 1000}, {"beta_end", 0.012}, {"solver_order", 2}});
  REQUIRE(r.ok());
  auto created = test::create_scheduler(r.value().feature, r.value().options);
  REQUIRE(created.ok());
}

TEST_CASE("sampler names and aliases resolve loosely", "[schedulers][names]") {
  const auto f = all_features();
  auto is = [&](const std::string& name, const std::string& want) {
    auto r = schedulers::resolve_sampler(name, f);
    return r.ok() && r.value() == want;
  };
  CHECK(is("DPM++ 2M Karras", "dpmpp_2m_karras"));
  CHECK(is("dpmpp_2m_sde_karras", "dpmpp_2m_sde_karras"));
  CHECK(is("Euler a", "euler_a"));
  CHECK(is("euler_ancestral", "euler_a"));
  CHECK(is("uni_pc_bh2", "unipc"));
  CHECK(is("PLMS", "pndm"));
  auto bad = schedulers::resolve_sampler("warp drive", f);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("available:") != std::string::npos);
  CHECK(bad.status().message().find("euler_a") != std::string::npos);
}

TEST_CASE("at least 25 distinct scheduler features are published", "[schedulers][names]") {
  std::set<std::string> names;
  for (const auto& i : all_features()) names.insert(i.name);
  CHECK(names.size() == all_features().size());
  CHECK(names.size() >= 25);
}

TEST_CASE("bad sampling parameters give clear errors", "[schedulers][validation]") {
  CHECK_FALSE(schedulers::validate_steps(0).ok());
  CHECK_FALSE(schedulers::validate_eta(-0.1).ok());
  CHECK_FALSE(schedulers::validate_strength(0.0).ok());
  CHECK_FALSE(schedulers::validate_strength(1.5).ok());
  CHECK(schedulers::validate_strength(1.0).ok());
  CHECK(schedulers::img2img_t_start(25, 0.6).value() == 10);
  CHECK(schedulers::img2img_t_start(8, 0.6).value() == 4);
  CHECK_FALSE(schedulers::img2img_t_start(4, 0.1).ok());  // int(0.4) = 0 steps left

  auto s = test::create_scheduler("euler");
  REQUIRE(s.ok());
  auto st = s.value()->set_timesteps(0);
  CHECK(st.code() == sdk::StatusCode::invalid_argument);
  CHECK_FALSE(s.value()->scale_model_input(at::zeros({1, 4, 2, 2}), 0).ok());  // before set_timesteps

  sdk::Options eta;
  eta.set("eta", -1.0);
  auto ddim = test::create_scheduler("ddim", eta);
  REQUIRE_FALSE(ddim.ok());
  CHECK(ddim.status().message().find("eta") != std::string::npos);

  sdk::Options unknown;
  unknown.set("warp", 1.0);
  auto plugins = test::scheduler_plugins();
  auto bad = plugins[1]->create_scheduler("euler", unknown, sdk::HostServices{});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("warp") != std::string::npos);

  REQUIRE(s.value()->set_timesteps(10).ok());
  auto mismatch = s.value()->scale_model_input(at::zeros({1, 4, 2, 2}), 10);  // only calls 0..9
  CHECK_FALSE(mismatch.ok());
  struct NoNoise : sdk::NoiseSource {
    at::Tensor randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) override {
      return at::zeros(shape, at::TensorOptions().dtype(dtype).device(device));
    }
  } nn;
  auto wrong_shape = s.value()->step(at::zeros({1, 4, 2, 2}), 0, at::zeros({1, 4, 2, 3}), nn);
  CHECK(wrong_shape.status().code() == sdk::StatusCode::invalid_argument);
}
