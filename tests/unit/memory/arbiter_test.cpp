#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "fake_components.h"

using namespace sdxl::memory;
using namespace sdxl::memory::testing;

TEST_CASE("a budget smaller than all components still completes every job", "[memory][arbiter]") {
  FakeWorld w;
  w.arbiter.set_budget(kGpu, 1100);
  w.arbiter.set_budget(kCpu, 1500);
  // 1450 bytes of weights in all: never on the GPU together.
  w.add("unet", 600, kCpu);
  w.add("te1", 100, kCpu);
  w.add("te2", 200, kCpu);
  w.add("vae", 150, kCpu);
  w.add("controlnet", 400, kCpu);
  const std::vector<std::vector<std::string>> jobs = {{"te1", "te2"}, {"unet"},        {"vae"},
                                                      {"controlnet", "unet"}, {"te1", "te2"}, {"unet", "vae"},
                                                      {"controlnet", "vae"},  {"unet", "te2"}};
  int n = 0;
  for (const auto& comps : jobs) {
    auto d = w.arbiter.admit(job("job" + std::to_string(n++), comps, kGpu, 50));
    REQUIRE(d.ok());
    REQUIRE(d.value().ok);
    for (const auto& c : comps) CHECK(w.where(c) == "cuda:0");  // the job's weights really are there
    CHECK(w.ledger.accounts().at("cuda:0").used <= 1100);
    w.arbiter.release(d.value().job);
    CHECK(w.ledger_at_baseline());
  }
  CHECK(w.ledger.accounts().at("cuda:0").peak <= 1100);
  CHECK(w.ledger.accounts().at("cpu").peak <= 1500);
  const auto s = w.arbiter.stats_json();
  CHECK(s["jobs"]["admitted"] == jobs.size());
  CHECK(s["evictions"].get<int>() > 0);
  CHECK(w.arbiter.running_jobs() == 0);
}

TEST_CASE("eviction follows least-recent use and moves GPU to CPU first and CPU to dropped", "[memory][arbiter]") {
  FakeWorld w;
  w.arbiter.set_budget(kGpu, 1000);
  w.arbiter.set_budget(kCpu, 1000);
  for (const char* n : {"a", "b", "c"}) w.add(n, 300, kGpu);
  w.add("d", 300, kCpu);
  w.add("e", 300, kCpu);
  // Use order a, c, b: least recent is a, then c.
  for (const char* n : {"a", "c", "b"}) {
    auto d = w.arbiter.admit(job(n, {n}));
    REQUIRE(d.ok());
    w.arbiter.release(d.value().job);
  }
  w.clear_log();
  auto d1 = w.arbiter.admit(job("needs d", {"d"}));
  REQUIRE(d1.ok());
  REQUIRE(d1.value().ok);
  CHECK(d1.value().evicted == std::vector<std::string>{"a: cuda:0 -> cpu"});
  CHECK(w.where("a") == "cpu");
  CHECK(w.log() == std::vector<std::string>{"move a cuda:0->cpu", "move d cpu->cuda:0"});
  w.arbiter.release(d1.value().job);
  // The host budget shrinks to 700 while it holds a + e = 600: c cannot move there, so it is dropped.
  w.arbiter.set_budget(kCpu, 700);
  w.clear_log();
  auto d2 = w.arbiter.admit(job("needs e", {"e"}));
  REQUIRE(d2.ok());
  REQUIRE(d2.value().ok);
  CHECK(d2.value().evicted == std::vector<std::string>{"c: cuda:0 -> dropped"});
  CHECK(w.where("c") == "dropped");
  w.arbiter.release(d2.value().job);
  CHECK(w.ledger_at_baseline());
  // A dropped component is re-read when a job needs it again.
  w.clear_log();
  auto d3 = w.arbiter.admit(job("needs c", {"c"}));
  REQUIRE(d3.ok());
  REQUIRE(d3.value().ok);
  CHECK(w.where("c") == "cuda:0");
  CHECK(w.log().back() == "reload c dropped->cuda:0");
  w.arbiter.release(d3.value().job);
  CHECK(w.arbiter.stats_json()["reloads"] == 1);
  CHECK(w.ledger_at_baseline());
}

TEST_CASE("pinned components are never evicted and components of running jobs make others wait", "[memory][arbiter]") {
  FakeWorld w;
  w.arbiter.set_budget(kGpu, 1000);
  w.add("a", 400, kGpu, /*pinned=*/true);
  w.add("b", 400, kGpu);
  w.add("c", 400, kCpu);
  w.add("d", 200, kCpu);
  // a is older than b, but pinned: b goes.
  auto d = w.arbiter.admit(job("c", {"c"}));
  REQUIRE(d.ok());
  REQUIRE(d.value().ok);
  CHECK(w.where("a") == "cuda:0");
  CHECK(w.where("b") == "cpu");
  // While job c runs, a job needing b finds only pinned bytes on the GPU: it must wait, not fail.
  auto busy = w.arbiter.admit(job("b", {"b"}));
  REQUIRE(busy.ok());
  CHECK_FALSE(busy.value().ok);
  CHECK(busy.value().job == 0);
  CHECK_THAT(busy.value().reason, Catch::Contains("waits"));
  CHECK(w.where("c") == "cuda:0");  // nothing was evicted for the refused attempt
  w.arbiter.release(d.value().job);
  auto later = w.arbiter.admit(job("b again", {"b"}));
  REQUIRE(later.ok());
  CHECK(later.value().ok);
  CHECK(w.where("a") == "cuda:0");
  w.arbiter.release(later.value().job);
  CHECK(w.ledger_at_baseline());
}

TEST_CASE("a job that can never fit is rejected with a reason and moves nothing", "[memory][arbiter]") {
  FakeWorld w;
  w.arbiter.set_budget(kGpu, 1000);
  w.add("unet", 700, kGpu);
  w.add("vae", 200, kCpu, /*pinned=*/false);
  w.add("fixed", 200, kGpu, /*pinned=*/true);
  auto r = w.arbiter.admit(job("too big", {"unet", "vae"}, kGpu, 0));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == sdxl::sdk::StatusCode::out_of_memory);
  CHECK_THAT(r.status().message(), Catch::Contains("too big") && Catch::Contains("budget") && Catch::Contains("cuda:0"));
  CHECK(w.log().empty());
  auto unknown = w.arbiter.admit(job("ghost", {"nope"}));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().code() == sdxl::sdk::StatusCode::not_found);
  CHECK(w.arbiter.stats_json()["jobs"]["rejected"] == 2);
  CHECK(w.ledger_at_baseline());
}

TEST_CASE("activations that do not fit reshape the job with a tiled VAE then a smaller batch", "[memory][arbiter]") {
  FakeWorld w;
  w.arbiter.set_budget(kGpu, 1000);
  w.add("unet", 500, kGpu);
  JobFootprint f = job("batch of 4", {"unet"}, kGpu, 400);  // 100 per image
  f.batch = 4;
  f.vae_decode_bytes = 800;       // untiled decode does not fit next to the UNet
  f.vae_decode_tiled_bytes = 200;
  auto d = w.arbiter.admit(f);
  REQUIRE(d.ok());
  REQUIRE(d.value().ok);
  CHECK(d.value().tiled_vae);
  CHECK(d.value().max_batch == 0);
  CHECK(d.value().scratch_bytes == 400);
  w.arbiter.release(d.value().job);

  f.activation_bytes = 1000;  // 250 per image: two at once fit in the 500 left, and so does
  auto e = w.arbiter.admit(f);  // the untiled decode of two (2 x 200)
  REQUIRE(e.ok());
  REQUIRE(e.value().ok);
  CHECK(e.value().max_batch == 2);
  CHECK_FALSE(e.value().tiled_vae);
  CHECK(e.value().scratch_bytes == 500);
  CHECK(w.ledger.accounts().at("cuda:0").used == 1000);
  w.arbiter.release(e.value().job);
  CHECK(w.ledger_at_baseline());
  CHECK(w.arbiter.stats_json()["jobs"]["reshaped"] == 2);
}

TEST_CASE("releasing twice is harmless and counted and failed callbacks leave components in place", "[memory][arbiter]") {
  FakeWorld w;
  w.arbiter.set_budget(kGpu, 600);
  w.arbiter.set_budget(kCpu, 100);  // no room on the host: eviction means drop
  auto& a = w.add("a", 300, kGpu);
  auto& b = w.add("b", 300, kGpu);
  w.add("c", 300, kCpu);
  auto d = w.arbiter.admit(job("a", {"a"}));  // b becomes least recent
  REQUIRE(d.ok());
  w.arbiter.release(d.value().job);
  w.arbiter.release(d.value().job);
  w.arbiter.release(12345);
  CHECK(w.arbiter.stats_json()["jobs"]["double_releases"] == 2);
  CHECK(w.ledger_at_baseline());
  b.fail_next = true;  // dropping b fails: the arbiter falls back to the next candidate, a
  auto e = w.arbiter.admit(job("c", {"c"}));
  REQUIRE(e.ok());
  REQUIRE(e.value().ok);
  CHECK(w.where("b") == "cuda:0");
  CHECK(w.where("a") == "dropped");
  CHECK(a.where == "dropped");
  CHECK(w.arbiter.stats_json()["callback_failures"] == 1);
  w.arbiter.release(e.value().job);
  CHECK(w.ledger_at_baseline());
}

TEST_CASE("offload_idle moves idle components to the host after each job", "[memory][arbiter]") {
  FakeWorld w;
  w.arbiter.set_mode(ArbiterMode::offload_idle);
  w.arbiter.set_budget(kGpu, 1000);
  w.add("unet", 500, kCpu);
  w.add("vae", 100, kCpu);
  auto d = w.arbiter.admit(job("j", {"unet", "vae"}));
  REQUIRE(d.ok());
  CHECK(w.where("unet") == "cuda:0");
  w.arbiter.release(d.value().job);
  CHECK(w.where("unet") == "cpu");
  CHECK(w.where("vae") == "cpu");
  CHECK(w.ledger.accounts().at("cuda:0").used == 0);
  CHECK(w.arbiter.stats_json()["idle_offloads"] == 2);
  CHECK(w.ledger_at_baseline());
}

TEST_CASE("sequential mode keeps weights on the host and reserves one block on the device", "[memory][arbiter]") {
  FakeWorld w;
  w.arbiter.set_mode(ArbiterMode::sequential);
  w.arbiter.set_budget(kGpu, 300);  // far smaller than the UNet
  ComponentRegistration r;
  r.name = "unet";
  r.device = kCpu;
  r.bytes = 2000;
  r.largest_block_bytes = 150;
  REQUIRE(w.arbiter.register_component(r).ok());
  auto d = w.arbiter.admit(job("j", {"unet"}, kGpu, 100));
  REQUIRE(d.ok());
  REQUIRE(d.value().ok);
  CHECK(w.arbiter.location("unet") == kCpu);
  CHECK(w.ledger.accounts().at("cuda:0").used == 250);  // window 150 + scratch 100
  w.arbiter.release(d.value().job);
  CHECK(w.ledger.accounts().at("cuda:0").used == 0);
  CHECK(parse_arbiter_mode("sequential").value() == ArbiterMode::sequential);
  CHECK_FALSE(parse_arbiter_mode("layered").ok());
}

TEST_CASE("sequential mode streams only what streams: the text encoder still goes to the device", "[memory][arbiter]") {
  FakeWorld w;
  w.arbiter.set_mode(ArbiterMode::sequential);
  w.arbiter.set_budget(kGpu, 600);
  ComponentRegistration unet;  // streams: on the GPU now (registered before the mode mattered)
  unet.name = "unet";
  unet.device = kGpu;
  unet.bytes = 500;
  unet.largest_block_bytes = 150;
  unet.callbacks.offload_to = [](c10::Device) { return sdxl::sdk::Status(); };
  REQUIRE(w.arbiter.register_component(unet).ok());
  ComponentRegistration te;  // does not stream: runs on the device whole
  te.name = "te";
  te.device = kCpu;
  te.bytes = 200;
  te.callbacks.offload_to = [](c10::Device) { return sdxl::sdk::Status(); };
  REQUIRE(w.arbiter.register_component(te).ok());
  // 200 (te) + 150 (window) + 100 (scratch) fits 600 only once the UNet has left the GPU.
  auto d = w.arbiter.admit(job("j", {"unet", "te"}, kGpu, 100));
  REQUIRE(d.ok());
  INFO(d.value().reason);
  REQUIRE(d.value().ok);
  CHECK(w.arbiter.location("unet") == kCpu);
  CHECK(w.arbiter.location("te") == kGpu);
  CHECK(w.ledger.accounts().at("cuda:0").used == 200 + 150 + 100);
  w.arbiter.release(d.value().job);
  CHECK(w.ledger.accounts().at("cuda:0").used == 200);
}
