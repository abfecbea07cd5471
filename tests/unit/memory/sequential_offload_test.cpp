// Sequential (layer-by-layer) streaming of the demo model's UNet to a simulated "cuda:0" (without
// CUDA the device copy is a fresh CPU copy, so every step — copy, re-seat, compute, re-seat back —
// runs here): the result is bit-identical, only one block is off its host storage at a time, a
// failing forward still leaves every weight on the host, and the arbiter reserves one block.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <stdexcept>

#include "demo_model_fixture.h"
#include "demo_unet_inputs.h"
#include "memory/model_components.h"
#include "memory/sequential_offload.h"

using namespace sdxl;

namespace {

const c10::Device kGpu(c10::kCUDA, 0);  // simulated: a name for the arbiter, CPU data

struct Demo {
  pipeline::ModelSpec spec;
  std::shared_ptr<pipeline::SdxlModel> model;
};

Demo load_demo() {
  auto reg = test_support::built_plugins();
  Demo d;
  d.model = test_support::load_demo_model("sdxl_sequential_test", *reg, &d.spec);
  return d;
}

models::UNetInputs unet_inputs(const models::UNetConfig& c) { return memory_test::unet_inputs(c, 11, 321.0); }

// The demo model, the UNet's inputs, and its output before anything streams.
struct Baseline : Demo {
  models::UNetInputs in;
  at::Tensor ref;
};

Baseline load_baseline() {
  Baseline b;
  static_cast<Demo&>(b) = load_demo();
  b.in = unet_inputs(b.model->unet->config());
  auto ref = b.model->unet->forward(b.in);
  REQUIRE(ref.ok());
  b.ref = ref.value();
  return b;
}

const void* storage_of(const at::Tensor& t) { return t.storage().data(); }

std::map<std::string, const void*> storages(const models::UNet2DConditionModel& unet) {
  std::map<std::string, const void*> out;
  for (const auto& [name, t] : unet.parameters()) out[name] = storage_of(t);
  return out;
}

// Forwards to the streamer and records the order; while a block runs, checks that exactly its
// weights are off their host storage. Optionally throws before streaming `fail_on`.
class Recorder : public models::UNetBlockObserver {
 public:
  Recorder(std::shared_ptr<memory::SequentialStreamer> s, const models::UNet2DConditionModel& unet,
           std::string fail_on = {})
      : streamer(std::move(s)), unet_(unet), host_(storages(unet)), fail_on_(std::move(fail_on)) {}
  void before(const std::string& block) override {
    if (block == fail_on_) throw std::runtime_error("observer refuses " + block);
    streamer->before(block);
    seen.push_back(block);
    for (const auto& [name, t] : unet_.parameters()) {
      const bool mine = models::UNet2DConditionModel::block_of(name) == block;
      if (mine == (storage_of(t) == host_.at(name))) misplaced.push_back(block + ": " + name);
    }
  }
  void after(const std::string& block) noexcept override {
    streamer->after(block);
    ended.push_back(block);
  }
  std::shared_ptr<memory::SequentialStreamer> streamer;
  std::vector<std::string> seen, ended, misplaced;

 private:
  const models::UNet2DConditionModel& unet_;
  std::map<std::string, const void*> host_;
  std::string fail_on_;
};

std::vector<std::string> expected_blocks(const models::UNetConfig& c) {
  std::vector<std::string> out{"stem"};
  for (std::int64_t l = 0; l < c.levels(); ++l) out.push_back("down_blocks." + std::to_string(l));
  out.push_back("mid_block");
  for (std::int64_t u = 0; u < c.levels(); ++u) out.push_back("up_blocks." + std::to_string(u));
  out.push_back("head");
  return out;
}

}  // namespace

TEST_CASE("sequential streamer moves one UNet block at a time and computes exactly the same", "[memory][sequential]") {
  const auto base = load_baseline();
  auto& unet = *base.model->unet;
  const auto& in = base.in;
  const auto host = storages(unet);

  CHECK_FALSE(memory::SequentialStreamer::for_unet(unet, c10::Device(c10::kCPU)).ok());
  auto made = memory::SequentialStreamer::for_unet(unet, kGpu);
  REQUIRE(made.ok());
  auto streamer = made.value();
  const auto blocks = expected_blocks(unet.config());
  CHECK(unet.block_names() == blocks);
  std::vector<std::string> grouped;
  for (const auto& [name, _] : streamer->block_bytes()) grouped.push_back(name);
  CHECK(std::set<std::string>(grouped.begin(), grouped.end()) == std::set<std::string>(blocks.begin(), blocks.end()));
  CHECK(streamer->total_bytes() == unet.resident_bytes());

  auto rec = std::make_shared<Recorder>(streamer, unet);
  unet.set_block_observer(rec);
  auto out = unet.forward(in);
  REQUIRE(out.ok());
  CHECK(at::equal(out.value(), base.ref));                           // (a)
  CHECK(rec->seen == blocks);                                        // (b)
  CHECK(rec->ended == blocks);
  CHECK(rec->misplaced.empty());                                     // one block off the host at a time
  CHECK(storages(unet) == host);                                     // (c)
  auto st = streamer->stats();
  CHECK(st.blocks_streamed == blocks.size());
  CHECK(st.bytes_copied == streamer->total_bytes());
  CHECK(st.device_bytes_now == 0);
  CHECK(st.peak_device_bytes == streamer->largest_block_bytes());    // (d)
  CHECK(st.peak_device_bytes < streamer->total_bytes());

  // The streamer attached directly, a second time: same answer, same storage, stats add up.
  unet.set_block_observer(streamer);
  auto again = unet.forward(in);
  REQUIRE(again.ok());
  CHECK(at::equal(again.value(), base.ref));
  CHECK(storages(unet) == host);
  CHECK(streamer->stats().bytes_copied == 2 * streamer->total_bytes());
  CHECK(streamer->stats().peak_device_bytes == streamer->largest_block_bytes());

  unet.set_block_observer(nullptr);
  CHECK(unet.block_observer() == nullptr);
  CHECK(streamer->stats().blocks_streamed == 2 * blocks.size());
  auto off = unet.forward(in);  // detached: nothing streams
  REQUIRE(off.ok());
  CHECK(streamer->stats().blocks_streamed == 2 * blocks.size());
}

TEST_CASE("a failing forward leaves every streamed weight on its host storage", "[memory][sequential]") {
  const auto base = load_baseline();
  auto& unet = *base.model->unet;
  const auto& in = base.in;
  const auto host = storages(unet);
  auto streamer = memory::SequentialStreamer::for_unet(unet, kGpu).value();

  SECTION("a wrong shape inside a block (mid residual with one channel too many)") {
    auto bad = in;
    const auto c_last = unet.config().block_out_channels.back();
    bad.mid_residual = at::zeros({1, c_last + 1, 2, 2});
    auto rec = std::make_shared<Recorder>(streamer, unet);
    unet.set_block_observer(rec);
    auto out = unet.forward(bad);
    REQUIRE_FALSE(out.ok());
    CHECK(rec->seen.back() == "mid_block");  // it failed while mid_block's weights were streamed
    CHECK(rec->ended == rec->seen);          // and that block was still put back
  }
  SECTION("an observer that throws on a block") {
    auto rec = std::make_shared<Recorder>(streamer, unet, "up_blocks.0");
    unet.set_block_observer(rec);
    auto out = unet.forward(in);
    REQUIRE_FALSE(out.ok());
    CHECK(out.status().message().find("observer refuses up_blocks.0") != std::string::npos);
    CHECK(rec->seen.back() == "mid_block");
    CHECK(rec->ended == rec->seen);
  }
  CHECK(storages(unet) == host);
  CHECK(streamer->stats().device_bytes_now == 0);
  CHECK(streamer->stats().peak_device_bytes <= streamer->largest_block_bytes());
  // Nothing is stuck: the next forward streams everything again and matches.
  unet.set_block_observer(streamer);
  auto out = unet.forward(in);
  REQUIRE(out.ok());
  CHECK(at::equal(out.value(), base.ref));
  CHECK(storages(unet) == host);
  unet.set_block_observer(nullptr);
}

TEST_CASE("sequential registration reserves the UNet's largest block and admits what resident mode refuses",
          "[memory][sequential][arbiter]") {
  const auto base = load_baseline();
  auto model = base.model;
  auto& unet = *model->unet;
  const auto& in = base.in;

  // Resident mode, or sequential on the CPU: no streamer.
  {
    memory::Ledger ledger;
    memory::MemoryArbiter resident(ledger);
    REQUIRE(memory::register_model_components(resident, model, base.spec, kGpu).ok());
    CHECK(unet.block_observer() == nullptr);
    memory::MemoryArbiter seq_cpu(ledger, memory::ArbiterMode::sequential);
    REQUIRE(memory::register_model_components(seq_cpu, model, base.spec, c10::Device(c10::kCPU)).ok());
    CHECK(unet.block_observer() == nullptr);
  }

  memory::Ledger ledger;
  memory::MemoryArbiter arbiter(ledger, memory::ArbiterMode::sequential);
  auto names = memory::register_model_components(arbiter, model, base.spec, kGpu);
  REQUIRE(names.ok());
  auto streamer = std::dynamic_pointer_cast<memory::SequentialStreamer>(unet.block_observer());
  REQUIRE(streamer);
  const std::string unet_name = model->name + ".unet";
  CHECK(arbiter.location(unet_name) == c10::Device(c10::kCPU));  // a streamed UNet's home is the host
  const auto stats = arbiter.stats_json();
  const std::uint64_t unet_bytes = stats["components"][unet_name]["bytes"];
  const std::uint64_t vae_bytes = stats["components"][model->name + ".vae"]["bytes"];  // pinned on the GPU
  const std::uint64_t window = streamer->largest_block_bytes();
  REQUIRE(window < unet_bytes);
  const std::uint64_t scratch = 64 * 1024;
  // Room for the VAE, one block and the scratch — not for the whole UNet.
  const std::uint64_t budget = vae_bytes + window + scratch + (unet_bytes - window) / 2;
  arbiter.set_budget(kGpu, budget);
  memory::JobFootprint denoise{"denoise", {unet_name}, kGpu};
  denoise.activation_bytes = scratch;

  arbiter.set_mode(memory::ArbiterMode::resident);
  auto refused = arbiter.admit(denoise);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == sdk::StatusCode::out_of_memory);

  arbiter.set_mode(memory::ArbiterMode::sequential);
  auto admitted = arbiter.admit(denoise);
  REQUIRE(admitted.ok());
  REQUIRE(admitted.value().ok);
  CHECK(arbiter.location(unet_name) == c10::Device(c10::kCPU));  // weights on the host
  std::uint64_t lease = 0;
  for (const auto& e : ledger.entries())
    if (e.lease && e.device == "cuda:0") lease += e.bytes;
  CHECK(lease == scratch + window);  // the reserved window is the streamer's largest block
  CHECK(ledger.accounts().at("cuda:0").used <= budget);

  const auto host = storages(unet);
  auto out = unet.forward(in);
  REQUIRE(out.ok());
  CHECK(at::equal(out.value(), base.ref));
  CHECK(storages(unet) == host);
  CHECK(streamer->stats().blocks_streamed == unet.block_names().size());
  CHECK(streamer->stats().peak_device_bytes == window);
  arbiter.release(admitted.value().job);

  memory::unregister_model_components(arbiter, *model);
  CHECK(unet.block_observer() == nullptr);
}

TEST_CASE("measure sequential streaming block sizes and CPU overhead", "[.measure]") {
  // Block sizes of the standard SDXL UNet (shapes only, nothing allocated), in fp16.
  models::UNetConfig sdxl;
  sdxl.block_out_channels = {320, 640, 1280};
  sdxl.transformer_layers = {0, 2, 10};
  sdxl.up_transformer_layers = {10, 2, 0};
  sdxl.heads = {5, 10, 20};
  sdxl.up_heads = {20, 10, 5};
  sdxl.mid_heads = 20;
  sdxl.mid_transformer_layers = 10;
  auto shapes = models::UNet2DConditionModel::parameter_shapes(sdxl);
  REQUIRE(shapes.ok());
  std::map<std::string, std::uint64_t> blocks;
  std::uint64_t total = 0;
  for (const auto& [name, shape] : shapes.value()) {
    const auto bytes = static_cast<std::uint64_t>(c10::multiply_integers(shape)) * 2;
    blocks[models::UNet2DConditionModel::block_of(name)] += bytes;
    total += bytes;
  }
  for (const auto& [name, bytes] : blocks) WARN("SDXL fp16 " << name << ": " << bytes / (1 << 20) << " MiB");
  WARN("SDXL fp16 total: " << total / (1 << 20) << " MiB");

  // The demo UNet on a simulated GPU: the copy cost per forward on this CPU.
  auto demo = load_demo();
  auto& unet = *demo.model->unet;
  const auto in = unet_inputs(unet.config());
  auto streamer = memory::SequentialStreamer::for_unet(unet, kGpu).value();
  auto time_forwards = [&](int n) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) REQUIRE(unet.forward(in).ok());
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / n;
  };
  time_forwards(3);  // warm-up
  const double plain = time_forwards(20);
  unet.set_block_observer(streamer);
  const double streamed = time_forwards(20);
  unet.set_block_observer(nullptr);
  WARN("demo UNet " << streamer->total_bytes() << " bytes, largest block " << streamer->largest_block_bytes()
                    << ": forward " << plain << " ms plain, " << streamed << " ms streamed (CPU copies)");
}
