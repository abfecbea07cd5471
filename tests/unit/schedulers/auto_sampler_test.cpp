// sampler = "auto" rules (host/schedulers/auto_sampler.h).
#include <catch2/catch.hpp>

#include "schedulers/auto_sampler.h"

using namespace sdxl::schedulers;

TEST_CASE("auto sampler: distillation LoRAs, then the model config, then euler", "[schedulers][auto]") {
  AutoHints none;
  auto r = choose_auto_sampler(none);
  REQUIRE(r.ok());
  CHECK(r.value().choice.feature == "euler");

  AutoHints model;
  model.scheduler_config = {{"_class_name", "DPMSolverMultistepScheduler"}, {"use_karras_sigmas", true},
                            {"prediction_type", "v_prediction"}};
  r = choose_auto_sampler(model);
  REQUIRE(r.ok());
  CHECK(r.value().choice.feature == "dpmpp_2m_karras");

  AutoHints lcm = model;
  lcm.lora_names = {"detail-tweaker.safetensors", "lcm-lora-sdxl.safetensors"};
  r = choose_auto_sampler(lcm);
  REQUIRE(r.ok());
  CHECK(r.value().choice.feature == "lcm");
  CHECK(r.value().choice.options.get_string("prediction_type") == "v_prediction");  // kept from the model

  AutoHints lightning;
  lightning.lora_metadata = {{{"ss_output_name", "sdxl_lightning_4step_lora"}}};
  r = choose_auto_sampler(lightning);
  REQUIRE(r.ok());
  CHECK(r.value().choice.feature == "euler");
  CHECK(r.value().choice.options.get_string("timestep_spacing") == "trailing");

  AutoHints not_a_word;
  not_a_word.lora_names = {"alcmx_style"};
  CHECK(choose_auto_sampler(not_a_word).value().choice.feature == "euler");

  AutoHints bad;
  bad.scheduler_config = {{"_class_name", "DDIMScheduler"}, {"thresholding", true}};
  CHECK_FALSE(choose_auto_sampler(bad).ok());
}
