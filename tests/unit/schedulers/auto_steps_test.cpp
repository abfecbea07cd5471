// sampler = "auto": distillations are recognised from LoRA and model names, with the sampler,
// spacing, step count and CFG their model cards recommend.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "schedulers/auto_sampler.h"

using sdxl::schedulers::AutoHints;
using sdxl::schedulers::choose_auto_sampler;

TEST_CASE("auto sampler: steps and CFG of recognised distillations", "[auto]") {
  AutoHints lightning;
  lightning.lora_names = {"sdxl_lightning_2step_lora.safetensors"};
  auto l = choose_auto_sampler(lightning);
  REQUIRE(l.ok());
  CHECK(l.value().choice.feature == "euler");
  CHECK(l.value().choice.options.get_string("timestep_spacing") == "trailing");
  CHECK(l.value().steps.value_or(0) == 2);
  CHECK(l.value().cfg.value_or(0) == Approx(1.0));

  AutoHints hyper;
  hyper.lora_names = {"Hyper-SDXL-8steps-lora.safetensors"};
  CHECK(choose_auto_sampler(hyper).value().steps.value_or(0) == 8);

  AutoHints lcm;
  lcm.lora_names = {"lcm-lora-sdxl.safetensors"};
  auto c = choose_auto_sampler(lcm);
  CHECK(c.value().choice.feature == "lcm");
  CHECK(c.value().steps.value_or(0) == 4);
  CHECK(c.value().cfg.value_or(0) == Approx(1.5));

  AutoHints turbo;
  turbo.model_name = "sd_xl_turbo_1.0_fp16";
  auto t = choose_auto_sampler(turbo);
  CHECK(t.value().choice.feature == "euler_a");
  CHECK(t.value().steps.value_or(0) == 1);

  AutoHints plain;
  plain.model_name = "sd_xl_base_1.0";
  auto p = choose_auto_sampler(plain);
  CHECK(p.value().choice.feature == "euler");
  CHECK_FALSE(p.value().steps.has_value());
}
