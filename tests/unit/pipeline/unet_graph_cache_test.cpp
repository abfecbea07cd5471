// [gpu] cuda_graphs: which UNet calls may be replayed from a CUDA graph, and that everything
// else — here, on the CPU, every call — runs eagerly with the eager result.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "demo_model_fixture.h"
#include "gpu/unet_cuda_graph.h"
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

struct GraphSwitchGuard {
  ~GraphSwitchGuard() { pipeline::set_cuda_graphs(false); }
};

}  // namespace

TEST_CASE("a UNet call is refused a CUDA graph for each thing a graph would bake in", "[pipeline][gpu]") {
  test_support::DemoModel demo("sdxl_unet_graph_cache_test");
  const auto& unet = *demo.model->unet;
  auto in = demo_inputs(unet);

  CHECK_THAT(pipeline::unet_graph_refusal(unet, in, false), Catch::Contains("no CUDA graphs"));
  // With graphs in the build, plain inputs are refused only for living on the CPU.
  CHECK_THAT(pipeline::unet_graph_refusal(unet, in, true), Catch::Contains("not on a CUDA device"));

  auto with_residual = in;
  with_residual.mid_residual = at::zeros({1});
  CHECK_THAT(pipeline::unet_graph_refusal(unet, with_residual, true), Catch::Contains("ControlNet"));

  demo.model->unet->set_block_observer(std::make_shared<NoOpObserver>());
  CHECK_THAT(pipeline::unet_graph_refusal(unet, in, true), Catch::Contains("sequential offload"));
  demo.model->unet->set_block_observer(nullptr);

  const at::Tensor& weight = unet.parameters().begin()->second;
  models::set_layer_adapter(weight, std::make_shared<ZeroAdapter>());
  CHECK_THAT(pipeline::unet_graph_refusal(unet, in, true), Catch::Contains("runtime LoRA"));
  models::set_layer_adapter(weight, nullptr);
  CHECK_THAT(pipeline::unet_graph_refusal(unet, in, true), Catch::Contains("not on a CUDA device"));
}

TEST_CASE("the UNet graph cache answers refused calls eagerly, with the eager result", "[pipeline][gpu]") {
  test_support::DemoModel demo("sdxl_unet_graph_cache_test");
  const auto& unet = *demo.model->unet;
  const auto in = demo_inputs(unet);
  auto eager = unet.forward(in);
  REQUIRE(eager.ok());
  pipeline::UNetGraphCache cache;
  for (int call = 0; call < 3; ++call) {  // a graph would capture at the second call
    auto eps = cache.forward(unet, in);
    REQUIRE(eps.ok());
    CHECK(at::equal(eps.value(), eager.value()));
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
