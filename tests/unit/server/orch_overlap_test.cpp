// Overlapped decode ([server] overlap_decode): the next job denoises while the previous one
// decodes, the pictures equal decoding in turn, memory stays booked until a decode ends, the
// worker waits for the decode before it changes the LoRA set, and shutdown finishes the decode.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "demo_kohya_lora.h"
#include "orch_support.h"
#include "test_paths.h"

using namespace sdxl;
using namespace std::chrono_literals;

namespace {

// Wraps a model's VAE: every decode waits until the gate opens (or `patience` passes, which it
// records), then decodes as the wrapped VAE does.
class GatedVae final : public sdk::VaeVariant {
 public:
  GatedVae(std::unique_ptr<sdk::VaeVariant> inner, std::chrono::milliseconds patience)
      : inner_(std::move(inner)), patience_(patience) {}

  void open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  int decodes_started() const { return started_; }
  int decodes_in_flight() const { return in_flight_; }
  bool waited_in_vain() const { return timed_out_; }

  sdk::Status load(const sdk::WeightSet& w) override { return inner_->load(w); }
  sdk::VaeInfo info() const override { return inner_->info(); }
  sdk::Result<at::Tensor> encode(const at::Tensor& images, sdk::NoiseSource* noise, sdk::JobContext* job) override {
    return inner_->encode(images, noise, job);
  }
  sdk::Result<at::Tensor> decode(const at::Tensor& latents, sdk::JobContext* job) override {
    ++started_;
    ++in_flight_;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_for(lock, patience_, [&] { return open_; })) timed_out_ = true;
    }
    auto out = inner_->decode(latents, job);
    --in_flight_;
    return out;
  }
  std::uint64_t estimate_decode_bytes(at::IntArrayRef shape) const override { return inner_->estimate_decode_bytes(shape); }

 private:
  std::unique_ptr<sdk::VaeVariant> inner_;
  std::chrono::milliseconds patience_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::atomic<int> started_{0}, in_flight_{0};
  std::atomic<bool> timed_out_{false};
};

// A demo model of its own (the shared one must keep its plain VAE) with a gated VAE.
std::shared_ptr<pipeline::SdxlModel> gated_model(std::chrono::milliseconds patience, GatedVae*& gate) {
  pipeline::ModelSpec spec;
  auto dir = models::demo::ensure_demo_model(orch_test::demo_cache());
  REQUIRE(dir.ok());
  spec.path = dir.value();
  auto m = pipeline::SdxlModel::load(spec, *orch_test::registry());
  REQUIRE(m.ok());
  auto model = m.value();
  auto wrapped = std::make_unique<GatedVae>(std::move(model->vae), patience);
  gate = wrapped.get();
  model->vae = std::move(wrapped);
  return model;
}

server::OrchestratorOptions gated_options(const std::shared_ptr<pipeline::SdxlModel>& model, bool overlap) {
  auto opt = orch_test::options();
  opt.load_model = [model](const pipeline::ModelSpec&) -> sdk::Result<std::shared_ptr<pipeline::SdxlModel>> {
    return model;
  };
  opt.overlap_decode = overlap;
  opt.start_paused = true;
  return opt;
}

// Opens the gate when `id` reports its first step: the decode it holds can only end once the
// next job has denoised.
std::uint64_t open_on_first_step(server::Orchestrator& o, const std::string& id, GatedVae* gate) {
  return o.subscribe(id, [gate](const server::JobEvent& e) {
    if (e.kind == server::JobEvent::Kind::progress) gate->open();
  });
}

std::vector<unsigned char> png_of(server::Orchestrator& o, const std::string& id) {
  const auto s = orch_test::wait_done(o, id, 60);
  INFO(s.error);
  REQUIRE(s.state == server::JobState::done);
  REQUIRE(s.images.size() == 1);
  return s.images[0].png;
}

// Queues two jobs on a paused orchestrator whose model has a gated VAE, opens the gate when the
// second one takes its first step, lets them run and waits until both are done.
void run_two(server::Orchestrator& o, const server::JobSpec& first, const server::JobSpec& second, GatedVae* gate) {
  auto a = o.submit(first);
  auto b = o.submit(second);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(open_on_first_step(o, b.value(), gate) != 0);
  o.resume();
  png_of(o, a.value());
  png_of(o, b.value());
}

// Queues one job per seed on a paused orchestrator, then lets it run; returns the ids in order.
std::vector<std::string> run_paused(server::Orchestrator& o, const std::string& prompt, std::vector<int> seeds,
                                    std::int64_t steps) {
  std::vector<std::string> ids;
  for (int seed : seeds) {
    auto id = o.submit(orch_test::tiny_job(prompt, seed, steps));
    REQUIRE(id.ok());
    ids.push_back(id.value());
  }
  o.resume();
  return ids;
}

}  // namespace

TEST_CASE("overlapped decode: the next job denoises while the previous one decodes", "[server][overlap]") {
  for (bool overlap : {true, false}) {
    DYNAMIC_SECTION((overlap ? "overlap on" : "overlap off")) {
      GatedVae* gate = nullptr;
      // Without overlap the first decode can never see the second job's step: a short patience.
      auto model = gated_model(overlap ? 60000ms : 500ms, gate);
      server::Orchestrator o(gated_options(model, overlap));
      run_two(o, orch_test::tiny_job("first", 1, 2), orch_test::tiny_job("second", 2, 2), gate);
      CHECK(gate->decodes_started() == 2);
      CHECK(gate->waited_in_vain() == !overlap);
      CHECK(o.stats_json().at("overlapped_decodes").get<std::int64_t>() == (overlap ? 1 : 0));
      CHECK(o.stats_json().at("overlap_decode").get<bool>() == overlap);
    }
  }
}

TEST_CASE("overlapped decode: pictures equal decoding in turn", "[server][overlap]") {
  std::vector<std::vector<unsigned char>> in_turn, overlapped;
  for (auto* out : {&in_turn, &overlapped}) {
    auto opt = orch_test::options();
    opt.overlap_decode = out == &overlapped;
    opt.start_paused = true;
    server::Orchestrator o(opt);
    for (const auto& id : run_paused(o, "a harbour at dawn", {3, 4, 5}, 2)) out->push_back(png_of(o, id));
  }
  REQUIRE(in_turn.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(in_turn[i] == overlapped[i]);
  CHECK(in_turn[0] != in_turn[1]);  // the seeds differ, so must the pictures
}

TEST_CASE("overlapped decode: a job holds its memory until its decode ends", "[server][overlap]") {
  // Room for one job at a time: the next job may denoise only once the previous decode is over.
  GatedVae* gate = nullptr;
  auto model = gated_model(300ms, gate);  // every decode lasts at least this long
  std::mutex mu;
  int held = 0, most_held = 0, admitted = 0, admitted_during_decode = 0;
  auto opt = gated_options(model, true);
  opt.admit = [&](const server::AdmissionRequest&) -> sdk::Result<server::Admission> {
    std::lock_guard<std::mutex> lock(mu);
    server::Admission a;
    if (held > 0) {
      a.busy = true;
      return a;
    }
    ++held;
    ++admitted;
    most_held = std::max(most_held, held);
    if (gate->decodes_in_flight() > 0) ++admitted_during_decode;
    a.release = [&] {
      std::lock_guard<std::mutex> l(mu);
      --held;
    };
    return a;
  };
  server::Orchestrator o(opt);
  for (const auto& id : run_paused(o, "memory", {1, 2, 3}, 1)) png_of(o, id);
  o.shutdown(true);
  std::lock_guard<std::mutex> lock(mu);
  CHECK(admitted == 3);
  CHECK(most_held == 1);
  CHECK(admitted_during_decode == 0);
  CHECK(held == 0);
  CHECK(gate->decodes_started() == 3);
}

TEST_CASE("overlapped decode: a LoRA switch waits for the decode", "[server][overlap]") {
  const auto folder = sdxl::test_paths::scratch_dir() / "sdxl_orch_overlap_lora";
  test_support::write_demo_kohya_lora(folder / "style.safetensors", {5, 0.2, 4.0});
  GatedVae* gate = nullptr;
  auto model = gated_model(1500ms, gate);  // the second job cannot step before the decode ends
  auto opt = gated_options(model, true);
  opt.config.lora_folders = {folder.string()};
  server::Orchestrator o(opt);
  auto styled = orch_test::tiny_job("styled", 2, 2);
  styled.loras = {{"style", 1.0}};
  run_two(o, orch_test::tiny_job("plain", 1, 2), styled, gate);
  CHECK(gate->waited_in_vain());  // the first decode ended before the styled job took a step
  CHECK(o.stats_json().at("lora_switches").get<std::int64_t>() == 1);
  CHECK(o.stats_json().at("overlapped_decodes").get<std::int64_t>() == 0);
}

TEST_CASE("overlapped decode: shutdown finishes the decode in hand", "[server][overlap]") {
  GatedVae* gate = nullptr;
  auto model = gated_model(60000ms, gate);
  server::Orchestrator o(gated_options(model, true));
  auto a = o.submit(orch_test::tiny_job("last one", 1, 1));
  REQUIRE(a.ok());
  o.resume();
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (gate->decodes_started() == 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  REQUIRE(gate->decodes_started() == 1);
  CHECK(o.running_job() == a.value());  // decoding still counts as running
  std::thread opener([gate] {
    std::this_thread::sleep_for(200ms);
    gate->open();
  });
  o.shutdown(false);  // waits for the decode: the job was past its last step
  opener.join();
  const auto s = o.snapshot(a.value());
  REQUIRE(s.has_value());
  CHECK(s->state == server::JobState::done);
  CHECK(s->images.size() == 1);
  CHECK_FALSE(gate->waited_in_vain());
}
