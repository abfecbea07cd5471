// The real model wired to the arbiter on a CPU-only machine: the demo model's UNet and text
// encoders are moved to a simulated "cuda:0" (ledger name; the data is re-seated on a fresh CPU
// copy), evicted by dropping, and re-read from the checkpoint — and still compute exactly what
// they computed before.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "demo_model_fixture.h"
#include "demo_unet_inputs.h"
#include "memory/activation_estimate.h"
#include "memory/model_components.h"
#include "pipeline/unet_graph_cache.h"

using namespace sdxl;

namespace {

models::UNetInputs unet_inputs(const models::UNetConfig& c) { return memory_test::unet_inputs(c, 7, 500.0); }

const void* storage_of(const at::Tensor& t) { return t.storage().data(); }

}  // namespace

TEST_CASE("model components move and drop and reload through the arbiter and compute the same", "[memory][arbiter]") {
  auto reg = test_support::built_plugins();
  pipeline::ModelSpec spec;
  auto model = test_support::load_demo_model("sdxl_arbiter_test", *reg, &spec);

  const auto in = unet_inputs(model->unet->config());
  auto ref = model->unet->forward(in);
  REQUIRE(ref.ok());
  const at::Tensor ids = at::randint(0, 200, {1, 77}, at::kLong);
  auto ref_text = model->text->encode(ids, ids);
  REQUIRE(ref_text.ok());

  memory::Ledger ledger;
  memory::MemoryArbiter arbiter(ledger);
  const c10::Device gpu(c10::kCUDA, 0);  // simulated: only a name in the ledger
  auto names = memory::register_model_components(arbiter, model, spec, c10::Device(c10::kCPU));
  REQUIRE(names.ok());
  const std::string unet = model->name + ".unet", te1 = model->name + ".text_encoder",
                    te2 = model->name + ".text_encoder_2";
  REQUIRE(names.value() == std::vector<std::string>{te1, te2, unet, model->name + ".vae"});
  const auto stats = arbiter.stats_json();
  const std::uint64_t unet_bytes = stats["components"][unet]["bytes"];
  const std::uint64_t text_bytes =
      stats["components"][te1]["bytes"].get<std::uint64_t>() + stats["components"][te2]["bytes"].get<std::uint64_t>();
  CHECK(unet_bytes == model->unet->resident_bytes());
  // The simulated GPU holds the UNet or both text encoders, never all three; the host holds
  // nothing more than what it has now, so evictions drop.
  const std::uint64_t gpu_budget = std::max(unet_bytes, text_bytes) + 1024;
  arbiter.set_budget(gpu, gpu_budget);

  const at::Tensor& w = model->unet->parameters().begin()->second;
  const void* before = storage_of(w);
  memory::JobFootprint denoise{"denoise", {unet}, gpu};
  auto j1 = arbiter.admit(denoise);
  REQUIRE(j1.ok());
  REQUIRE(j1.value().ok);
  CHECK(arbiter.location(unet) == gpu);
  CHECK(storage_of(w) != before);  // really re-seated on new storage
  auto out1 = model->unet->forward(in);
  REQUIRE(out1.ok());
  CHECK(at::equal(out1.value(), ref.value()));
  arbiter.release(j1.value().job);
  // The host has no room left, so evictions from the GPU drop instead of moving to the host.
  arbiter.set_budget(c10::Device(c10::kCPU), ledger.accounts().at("cpu").used);

  memory::JobFootprint encode{"encode", {te1, te2}, gpu};
  auto j2 = arbiter.admit(encode);
  REQUIRE(j2.ok());
  REQUIRE(j2.value().ok);
  CHECK(j2.value().evicted == std::vector<std::string>{unet + ": cuda:0 -> dropped"});
  CHECK(arbiter.location(unet) == std::nullopt);
  CHECK(w.numel() == 0);  // storage freed
  auto text = model->text->encode(ids, ids);
  REQUIRE(text.ok());
  CHECK(at::equal(text.value().prompt_embeds, ref_text.value().prompt_embeds));
  arbiter.release(j2.value().job);

  auto j3 = arbiter.admit(denoise);  // the UNet re-read (text encoders dropped if it needs room)
  REQUIRE(j3.ok());
  REQUIRE(j3.value().ok);
  CHECK(arbiter.location(unet) == gpu);
  CHECK(ledger.accounts().at("cuda:0").used <= gpu_budget);
  auto out3 = model->unet->forward(in);
  REQUIRE(out3.ok());
  CHECK(at::equal(out3.value(), ref.value()));
  arbiter.release(j3.value().job);
  // The ledger holds exactly the components where the arbiter says they are, and no lease.
  std::uint64_t on_gpu = 0;
  for (const auto& n : names.value())
    if (arbiter.location(n) == gpu) on_gpu += arbiter.stats_json()["components"][n]["bytes"].get<std::uint64_t>();
  CHECK(ledger.accounts().at("cuda:0").used == on_gpu);
  CHECK(arbiter.stats_json()["reloads"] == 1);
  for (const auto& e : ledger.entries()) CHECK_FALSE(e.lease);
}

TEST_CASE("a captured CUDA graph's activation pool is booked with the arbiter while it is held", "[memory][arbiter]") {
  auto reg = test_support::built_plugins();
  pipeline::ModelSpec spec;
  auto model = test_support::load_demo_model("sdxl_arbiter_graph_test", *reg, &spec);
  // A graph backend that runs on the CPU: "replay" is an eager forward (the cache's bookkeeping
  // is what is watched here; gpu/unet_cuda_graph.h is the real one).
  pipeline::UNetGraphBackend backend;
  backend.available = true;
  backend.cuda_only = false;
  backend.capture = [](const models::UNet2DConditionModel& unet,
                       const models::UNetInputs&) -> sdk::Result<pipeline::UNetGraphBackend::Replay> {
    return pipeline::UNetGraphBackend::Replay([&unet](const models::UNetInputs& x) { return unet.forward(x); });
  };
  model->unet_graphs = std::make_shared<pipeline::UNetGraphCache>(backend);

  memory::Ledger ledger;
  memory::MemoryArbiter arbiter(ledger);
  REQUIRE(memory::register_model_components(arbiter, model, spec, c10::Device(c10::kCPU)).ok());
  const std::string graph = model->name + ".unet_graph";
  auto booked = [&]() -> std::int64_t {  // -1: not on the books
    const auto comps = arbiter.stats_json()["components"];
    return comps.contains(graph) ? comps[graph]["bytes"].get<std::int64_t>() : -1;
  };
  const auto in = unet_inputs(model->unet->config());
  REQUIRE(model->unet_graphs->forward(*model->unet, in).ok());  // first call of a shape: eager
  CHECK(booked() == -1);
  REQUIRE(model->unet_graphs->forward(*model->unet, in).ok());  // second: captured
  REQUIRE(model->unet_graphs->captures() == 1);
  const auto expected = memory::estimate_unet_activation_bytes(model->unet->config(), 1, 64, 64, model->unet->dtype(),
                                                               /*cfg=*/false);
  CHECK(expected > 0);
  CHECK(booked() == static_cast<std::int64_t>(expected));
  CHECK(arbiter.stats_json()["components"][graph]["pinned"] == true);  // freed by a new shape, not by eviction

  models::UNetInputs bigger = in;  // a new shape drops the graph: off the books
  bigger.sample = at::randn({1, in.sample.size(1), 16, 16});
  bigger.time_ids = at::tensor({128.0, 128.0, 0.0, 0.0, 128.0, 128.0}).reshape({1, 6});
  REQUIRE(model->unet_graphs->forward(*model->unet, bigger).ok());
  CHECK(booked() == -1);

  REQUIRE(model->unet_graphs->forward(*model->unet, bigger).ok());  // captured again: booked again
  CHECK(booked() > static_cast<std::int64_t>(expected));
  memory::unregister_model_components(arbiter, *model);
  CHECK(booked() == -1);
}
