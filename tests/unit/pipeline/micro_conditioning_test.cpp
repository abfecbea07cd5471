// SDXL micro-conditioning reaches the UNet as diffusers builds it: rows [negative; positive],
// each [orig_h, orig_w, crop_top, crop_left, target_h, target_w], negative defaulting to positive.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "demo_model_fixture.h"
#include "pipeline/job_settings.h"

using namespace sdxl;

TEST_CASE("micro-conditioning: time ids for positive and negative rows", "[micro]") {
  test_support::DemoModel demo("sdxl_micro_test");
  const auto& reg = *demo.registry;

  auto time_ids = [&](pipeline::GenerateRequest req) {
    req.prompts.prompts = {"x"};
    req.width = 64;
    req.height = 48;
    req.steps = 1;
    at::Tensor ids;
    pipeline::StepSink sink = [&](const std::string& n, const at::Tensor& t) {
      if (n == "add_time_ids") ids = t.clone();
    };
    noise::CpuTorchNoise noise(1);
    pipeline::JobHooks hooks;
    hooks.noise = &noise;
    hooks.sink = &sink;
    REQUIRE(pipeline::generate(*demo.model, reg, req, hooks).ok());
    return ids;
  };
  pipeline::GenerateRequest plain;
  at::Tensor d = time_ids(plain);
  REQUIRE(d.sizes() == at::IntArrayRef({2, 6}));
  CHECK(at::equal(d[0], at::tensor({48.f, 64.f, 0.f, 0.f, 48.f, 64.f})));
  CHECK(at::equal(d[1], d[0]));

  pipeline::GenerateRequest custom;
  custom.original_size = pipeline::parse_size("1024x768", "size").value();  // W x H
  custom.crop_top_left = {16, 8};
  custom.negative_original_size = pipeline::parse_size("512x512", "size").value();
  at::Tensor c = time_ids(custom);
  CHECK(at::equal(c[1], at::tensor({768.f, 1024.f, 16.f, 8.f, 48.f, 64.f})));  // positive row
  CHECK(at::equal(c[0], at::tensor({512.f, 512.f, 16.f, 8.f, 48.f, 64.f})));   // negative: its own size
  CHECK_FALSE(pipeline::parse_size("12", "size").ok());
  CHECK_FALSE(pipeline::parse_pair("-1,2", "crop").ok());
}
