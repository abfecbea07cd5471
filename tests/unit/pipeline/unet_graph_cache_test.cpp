// [gpu] cuda_graphs: which UNet calls may be replayed from a CUDA graph, and that everything
// else — here, on the CPU, every call — runs eagerly with the eager result.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "demo_model_fixture.h"
#include "gpu/unet_cuda_graph.h"
#include "gpu/unet_graph_inputs.h"
#include "models/common/layers.h"
#include "pipeline/unet_graph_cache.h"

using namespace sdxl;

namespace {

models::UNetInputs demo_inputs(const models::UNet2DConditionModel& unet) {
  const auto& c = unet.config();
  at::manual_seed(3);
  models::UNetInputs in;
  in.sample = at::randn({2, c.in_channels, 8, 8});
  in.timestep = at::full({2}, 500.0);
  in.encoder_hidden_states = at::randn({2, 77, c.cross_attention_dim});
  in.text_embeds = at::randn({2, c.projection_class_embeddings_input_dim - 6 * c.addition_time_embed_dim});
  in.time_ids = at::tensor({64.0, 64.0, 0.0, 0.0, 64.0, 64.0}).repeat({2, 1});
  return in;
}

struct NoOpObserver : models::UNetBlockObserver {
  void before(const std::string&) override {}
  void after(const std::string&) noexcept override {}
};

struct ZeroAdapter : models::LayerAdapter {
  at::Tensor linear(const at::Tensor& x) const override { return at::zeros_like(x); }
  at::Tensor conv2d(const at::Tensor& x, std::int64_t, std::int64_t) const override { return at::zeros_like(x); }
};

// A stand-in for CUDA graphs that runs on the CPU: capture counts and copies the inputs into a
// graph's buffers (gpu/unet_graph_inputs.h, as the CUDA graph does); replay loads the call's
// inputs into them and runs the UNet eagerly on the buffers into one static output tensor (as a
// graph's), so the cache's bookkeeping can be watched.
struct Recorder {
  int captures = 0, replays = 0;
  bool refuse_capture = false;
  bool captured_with_context_kv = false;  // the latest capture's
  at::Tensor static_output;  // the latest graph's output buffer
};

pipeline::UNetGraphBackend recording_backend(const std::shared_ptr<Recorder>& r) {
  pipeline::UNetGraphBackend b;
  b.available = true;
  b.cuda_only = false;
  b.capture = [r](const models::UNet2DConditionModel& unet,
                  const models::UNetInputs& example) -> sdk::Result<pipeline::UNetGraphBackend::Replay> {
    ++r->captures;
    if (r->refuse_capture) return sdk::internal_error("capture refused by the test");
    auto inputs = gpu::UNetGraphInputs::copy_of(example);
    if (!inputs.ok()) return inputs.status();
    r->captured_with_context_kv = inputs.value().has_context_kv();
    auto graph_inputs = std::make_shared<gpu::UNetGraphInputs>(std::move(inputs).value());
    auto buffer = std::make_shared<at::Tensor>();  // this graph's output, reused by every replay
    return pipeline::UNetGraphBackend::Replay(
        [r, graph_inputs, buffer, &unet](const models::UNetInputs& x) -> sdk::Result<at::Tensor> {
      ++r->replays;
      if (auto st = graph_inputs->load(x); !st.ok()) return st;
      auto eps = unet.forward(graph_inputs->inputs());
      if (!eps.ok()) return eps.status();
      if (!buffer->defined()) *buffer = eps.value().clone();
      else buffer->copy_(eps.value());
      r->static_output = *buffer;
      return *buffer;
    });
  };
  return b;
}

models::UNetInputs with_sample_size(models::UNetInputs in, std::int64_t side) {
  in.sample = at::randn({in.sample.size(0), in.sample.size(1), side, side});
  return in;
}

// The demo UNet, inputs for it, and its eager answer to them.
struct DemoCall {
  test_support::DemoModel demo{"sdxl_unet_graph_cache_test"};
  const models::UNet2DConditionModel& unet = *demo.model->unet;
  const models::UNetInputs in = demo_inputs(unet);
  at::Tensor eager;
  DemoCall() {
    auto eps = unet.forward(in);
    REQUIRE(eps.ok());
    eager = eps.value();
  }
};

struct GraphSwitchGuard {
  ~GraphSwitchGuard() { pipeline::set_cuda_graphs(false); }
};

}  // namespace

TEST_CASE("a UNet call is refused a CUDA graph for each thing a graph would bake in", "[pipeline][gpu]") {
  test_support::DemoModel demo("sdxl_unet_graph_cache_test");
  const auto& unet = *demo.model->unet;
  auto in = demo_inputs(unet);

  pipeline::UNetGraphBackend none, cuda;
  cuda.available = true;  // as a CUDA build's
  CHECK_THAT(pipeline::unet_graph_refusal(unet, in, none), Catch::Contains("no CUDA graphs"));
  // With graphs in the build, plain inputs are refused only for living on the CPU.
  CHECK_THAT(pipeline::unet_graph_refusal(unet, in, cuda), Catch::Contains("not on a CUDA device"));

  auto with_residual = in;
  with_residual.mid_residual = at::zeros({1});
  CHECK_THAT(pipeline::unet_graph_refusal(unet, with_residual, cuda), Catch::Contains("ControlNet"));

  demo.model->unet->set_block_observer(std::make_shared<NoOpObserver>());
  CHECK_THAT(pipeline::unet_graph_refusal(unet, in, cuda), Catch::Contains("sequential offload"));
  demo.model->unet->set_block_observer(nullptr);

  const at::Tensor& weight = unet.parameters().begin()->second;
  models::set_layer_adapter(weight, std::make_shared<ZeroAdapter>());
  CHECK_THAT(pipeline::unet_graph_refusal(unet, in, cuda), Catch::Contains("runtime LoRA"));
  models::set_layer_adapter(weight, nullptr);
  CHECK_THAT(pipeline::unet_graph_refusal(unet, in, cuda), Catch::Contains("not on a CUDA device"));
}

TEST_CASE("the UNet graph cache answers refused calls eagerly, with the eager result", "[pipeline][gpu]") {
  DemoCall call;
  const auto& unet = call.unet;
  const auto& in = call.in;
  pipeline::UNetGraphCache cache;
  for (int n = 0; n < 3; ++n) {  // a graph would capture at the second call
    auto eps = cache.forward(unet, in);
    REQUIRE(eps.ok());
    CHECK(at::equal(eps.value(), call.eager));
  }
  CHECK(cache.captures() == 0);
  CHECK(cache.replays() == 0);
}

TEST_CASE("[gpu] cuda_graphs leaves a CPU generation unchanged", "[pipeline][gpu]") {
  test_support::DemoModel demo("sdxl_unet_graph_cache_test");
  GraphSwitchGuard guard;
  pipeline::set_cuda_graphs(false);
  const at::Tensor eager = test_support::generate_latents(*demo.model, *demo.registry);
  pipeline::set_cuda_graphs(true);
  const at::Tensor switched = test_support::generate_latents(*demo.model, *demo.registry);
  CHECK(at::equal(eager, switched));
  CHECK(demo.model->unet_graphs->replays() == 0);
}

TEST_CASE("a build without CUDA graphs says so when asked to capture", "[pipeline][gpu]") {
  if (gpu::UNetCudaGraph::available()) return;  // a CUDA build: capture needs a device (GPU script)
  test_support::DemoModel demo("sdxl_unet_graph_cache_test");
  auto g = gpu::UNetCudaGraph::capture(*demo.model->unet, demo_inputs(*demo.model->unet));
  REQUIRE_FALSE(g.ok());
  CHECK(g.status().code() == sdk::StatusCode::unsupported);
  CHECK_THAT(g.status().message(), Catch::Contains("CUDA graphs"));
}

TEST_CASE("the UNet graph cache warms up, captures on a shape's second call, replays after", "[pipeline][gpu]") {
  DemoCall call;
  const auto& unet = call.unet;
  const auto& in = call.in;
  auto rec = std::make_shared<Recorder>();
  pipeline::UNetGraphCache cache(recording_backend(rec));

  auto first = cache.forward(unet, in);  // warm-up: eager
  REQUIRE(first.ok());
  CHECK(rec->captures == 0);
  auto second = cache.forward(unet, in);  // capture, then replay
  auto third = cache.forward(unet, in);   // replay
  REQUIRE(second.ok());
  REQUIRE(third.ok());
  CHECK(rec->captures == 1);
  CHECK(rec->replays == 2);
  CHECK(cache.captures() == 1);
  CHECK(cache.replays() == 2);
  for (const auto* r : {&first, &second, &third}) CHECK(at::equal(r->value(), call.eager));
  // Each caller owns its result: not the graph's output, which the next replay overwrites.
  CHECK(second.value().data_ptr() != rec->static_output.data_ptr());
  CHECK(second.value().data_ptr() != third.value().data_ptr());

  // Another shape: eager once, then a new capture.
  const auto bigger = with_sample_size(in, 16);
  REQUIRE(cache.forward(unet, bigger).ok());
  CHECK(rec->captures == 1);
  auto bigger_eps = cache.forward(unet, bigger);
  REQUIRE(bigger_eps.ok());
  CHECK(rec->captures == 2);
  CHECK(bigger_eps.value().size(2) == 16);

  // Weights re-seated on new storage (what the arbiter does when it moves them): recaptured,
  // since a graph would read the old storage.
  const at::Tensor& weight = unet.parameters().begin()->second;
  weight.set_(weight.clone());
  REQUIRE(cache.forward(unet, bigger).ok());
  CHECK(rec->captures == 2);
  REQUIRE(cache.forward(unet, bigger).ok());
  CHECK(rec->captures == 3);

  // Inputs a graph cannot bake in (ControlNet residuals) always run eagerly.
  auto with_residual = bigger;
  with_residual.mid_residual = at::zeros({1});
  const int replays_before = rec->replays;
  for (int n = 0; n < 3; ++n) (void)cache.forward(unet, with_residual);
  CHECK(rec->replays == replays_before);
}

TEST_CASE("the UNet graph cache keeps calls with and without context keys/values apart", "[pipeline][gpu]") {
  DemoCall call;
  const auto& unet = call.unet;
  auto job = call.in;  // as the denoise loop calls it: keys and values made once for the job
  auto kv = unet.cross_attention_kv(job.encoder_hidden_states);
  REQUIRE(kv.ok());
  job.context_kv = kv.value();
  auto rec = std::make_shared<Recorder>();
  pipeline::UNetGraphCache cache(recording_backend(rec));
  for (int n = 0; n < 3; ++n) {
    auto eps = cache.forward(unet, job);
    REQUIRE(eps.ok());
    CHECK(at::equal(eps.value(), call.eager));
  }
  CHECK(rec->captures == 1);
  CHECK(rec->captured_with_context_kv);
  // The same shapes without them: another graph (the captured one would read stale pairs).
  for (int n = 0; n < 2; ++n) {
    auto eps = cache.forward(unet, call.in);
    REQUIRE(eps.ok());
    CHECK(at::equal(eps.value(), call.eager));
  }
  CHECK(rec->captures == 2);
  CHECK_FALSE(rec->captured_with_context_kv);
}

TEST_CASE("a failed capture leaves the model eager for good", "[pipeline][gpu]") {
  DemoCall call;
  const auto& unet = call.unet;
  const auto& in = call.in;
  auto rec = std::make_shared<Recorder>();
  rec->refuse_capture = true;
  pipeline::UNetGraphCache cache(recording_backend(rec));
  for (int n = 0; n < 4; ++n) {
    auto eps = cache.forward(unet, in);
    REQUIRE(eps.ok());
    CHECK(at::equal(eps.value(), call.eager));
  }
  CHECK(rec->captures == 1);  // tried once, at the second call
  CHECK(rec->replays == 0);
  CHECK(cache.captures() == 0);
}
