// A captured UNet call's input buffers (gpu/unet_graph_inputs.h): a forward on the buffers after
// load() must be the forward on the call's own inputs, context keys/values included, and calls a
// graph could not answer correctly are refused. Run on the CPU: the buffers are plain ATen.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "gpu/unet_graph_inputs.h"
#include "tiny_unet.h"

using namespace sdxl;

namespace {

// The call with its job's keys and values, as the denoise loop makes it.
models::UNetInputs with_context_kv(const models::UNet2DConditionModel& unet, models::UNetInputs in) {
  auto kv = unet.cross_attention_kv(in.encoder_hidden_states);
  REQUIRE(kv.ok());
  in.context_kv = kv.value();
  return in;
}

at::Tensor forward(const models::UNet2DConditionModel& unet, const models::UNetInputs& in) {
  auto eps = unet.forward(in);
  INFO(eps.status().message());
  REQUIRE(eps.ok());
  return eps.value();
}

}  // namespace

TEST_CASE("graph input buffers carry each job's context keys and values, copied once per job", "[gpu][graph]") {
  const auto config = test_unet::tiny_config();
  const auto unet = test_unet::random_unet(config, 11);
  const auto first_job = with_context_kv(*unet, test_unet::random_inputs(config, 2));
  auto buffers = gpu::UNetGraphInputs::copy_of(first_job);
  REQUIRE(buffers.ok());
  auto& g = buffers.value();
  REQUIRE(g.has_context_kv());
  // The buffers own their tensors: nothing of the example is read later.
  CHECK(g.inputs().sample.data_ptr() != first_job.sample.data_ptr());
  CHECK(g.inputs().context_kv.get() != first_job.context_kv.get());
  CHECK(at::equal(forward(*unet, g.inputs()), forward(*unet, first_job)));

  // Later steps of the same job: new latents and timestep, the same pairs (not copied again).
  auto step = first_job;
  step.sample = at::randn_like(first_job.sample);
  step.timestep = at::full_like(first_job.timestep, 250.f);
  REQUIRE(g.load(step).ok());
  REQUIRE(g.load(step).ok());
  CHECK(g.context_kv_loads() == 0);
  CHECK(at::equal(forward(*unet, g.inputs()), forward(*unet, step)));

  // Another job: another prompt, so other keys and values. A graph that kept the first job's
  // would answer for the wrong prompt.
  auto other = test_unet::random_inputs(config, 2);
  other.encoder_hidden_states = at::randn_like(other.encoder_hidden_states);
  const auto second_job = with_context_kv(*unet, other);
  REQUIRE(g.load(second_job).ok());
  CHECK(g.context_kv_loads() == 1);
  const at::Tensor expected = forward(*unet, second_job);
  CHECK(at::equal(forward(*unet, g.inputs()), expected));
  CHECK_FALSE(at::allclose(expected, forward(*unet, first_job)));
  REQUIRE(g.load(second_job).ok());
  CHECK(g.context_kv_loads() == 1);
  REQUIRE(g.load(first_job).ok());  // back to the first set: copied again
  CHECK(g.context_kv_loads() == 2);
  CHECK(at::equal(forward(*unet, g.inputs()), forward(*unet, first_job)));
}

TEST_CASE("graph input buffers refuse calls the captured graph cannot answer", "[gpu][graph]") {
  const auto config = test_unet::tiny_config();
  const auto unet = test_unet::random_unet(config, 12);
  const auto plain = test_unet::random_inputs(config, 2);
  const auto job = with_context_kv(*unet, plain);
  auto with_kv = gpu::UNetGraphInputs::copy_of(job);
  auto without_kv = gpu::UNetGraphInputs::copy_of(plain);
  REQUIRE(with_kv.ok());
  REQUIRE(without_kv.ok());
  CHECK_FALSE(without_kv.value().has_context_kv());
  CHECK(at::equal(forward(*unet, without_kv.value().inputs()), forward(*unet, plain)));

  auto refused = [](gpu::UNetGraphInputs& g, const models::UNetInputs& in, const char* why) {
    const auto st = g.load(in);
    REQUIRE_FALSE(st.ok());
    CHECK(st.code() == sdk::StatusCode::invalid_argument);
    CHECK_THAT(st.message(), Catch::Contains(why));
  };
  refused(with_kv.value(), plain, "called without");
  refused(without_kv.value(), job, "called with them");

  // Pairs that do not belong to the call's context (the context edited after they were made),
  // or that another UNet made.
  auto stale = job;
  stale.encoder_hidden_states = job.encoder_hidden_states.clone();
  refused(with_kv.value(), stale, "other encoder_hidden_states");
  const auto other_unet = test_unet::random_unet(config, 13);
  refused(with_kv.value(), with_context_kv(*other_unet, plain), "another model");

  auto bigger = job;
  bigger.sample = at::randn({2, 4, 32, 32});
  refused(with_kv.value(), bigger, "shapes differ");

  auto residual = plain;
  residual.mid_residual = at::zeros({1});
  const auto residual_buffers = gpu::UNetGraphInputs::copy_of(residual);
  REQUIRE_FALSE(residual_buffers.ok());
  CHECK(residual_buffers.status().code() == sdk::StatusCode::unsupported);
}
