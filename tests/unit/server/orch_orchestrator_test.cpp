// The orchestrator on the demo model: run order (priority, fairness), cancellation of queued and
// running jobs, timeouts, a failing job not stopping the worker, shutdown semantics, events.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>

#include "image/png.h"
#include "demo_kohya_lora.h"
#include "pipeline/infotext.h"
#include "memory/arbiter.h"
#include "orch_support.h"
#include "server/orchestrator_admission.h"
#include "test_paths.h"

using namespace sdxl;
using namespace sdxl::server;
using orch_test::tiny_job;
using orch_test::wait_done;

namespace {
// Records the order in which jobs start, from their "started" events.
struct StartLog {
  std::mutex mu;
  std::vector<std::string> started;
  void watch(Orchestrator& o, const std::string& id) {
    o.subscribe(id, [this](const JobEvent& e) {
      if (e.kind != JobEvent::Kind::started) return;
      std::lock_guard<std::mutex> lock(mu);
      started.push_back(e.job_id);
    });
  }
};
}  // namespace

TEST_CASE("orch: a job runs to a PNG with A1111 infotext and the events arrive in order", "[orch]") {
  Orchestrator o(orch_test::options());
  auto id = o.submit(tiny_job("a red boat", 7));
  REQUIRE(id.ok());
  std::mutex mu;
  std::vector<JobEvent::Kind> kinds;
  o.subscribe(id.value(), [&](const JobEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    kinds.push_back(e.kind);
  });
  auto s = wait_done(o, id.value());
  REQUIRE(s.state == JobState::done);
  REQUIRE(s.images.size() == 1);
  CHECK(s.images[0].seed == 7);
  auto png = image::decode_png(s.images[0].png.data(), s.images[0].png.size(), "result");
  REQUIRE(png.ok());
  CHECK(png.value().pixels.size(0) == 64);
  CHECK(png.value().pixels.size(1) == 64);
  const auto info = pipeline::parse_infotext(png.value().text.at("parameters"));
  CHECK(info.prompt == "a red boat");
  std::map<std::string, std::string> fields(info.fields.begin(), info.fields.end());
  CHECK(fields["Seed"] == "7");
  CHECK(fields["Steps"] == "2");
  CHECK(fields["Sampler"] == "Euler");
  CHECK(fields["Size"] == "64x64");
  CHECK(s.step == s.total);
  CHECK(o.current_model() == "demo");
  // A late subscriber gets the outcome at once.
  bool late = false;
  CHECK(o.subscribe(id.value(), [&](const JobEvent& e) { late = e.kind == JobEvent::Kind::done; }) != 0);
  CHECK(late);
  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(!kinds.empty());
  CHECK(kinds.back() == JobEvent::Kind::done);
  CHECK(std::count(kinds.begin(), kinds.end(), JobEvent::Kind::done) == 1);
}

TEST_CASE("orch: higher priority runs first, clients at equal priority take turns", "[orch]") {
  auto opt = orch_test::options();
  opt.start_paused = true;
  Orchestrator o(opt);
  StartLog log;
  std::vector<std::pair<std::string, int>> jobs = {{"x", 0}, {"x", 0}, {"x", 0}, {"y", 0}, {"z", 5}};
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    auto spec = tiny_job("job " + std::to_string(i), static_cast<std::int64_t>(i), 1);
    spec.client = jobs[i].first;
    spec.priority = jobs[i].second;
    auto id = o.submit(spec);
    REQUIRE(id.ok());
    ids.push_back(id.value());
    log.watch(o, id.value());
  }
  CHECK(o.snapshot(ids[4])->queue_position == 0);
  CHECK(o.snapshot(ids[3])->queue_position == 2);
  o.resume();
  for (const auto& id : ids) CHECK(wait_done(o, id).state == JobState::done);
  std::lock_guard<std::mutex> lock(log.mu);
  // z (priority 5), then x and y alternate: x1 y1 x2 x3.
  CHECK(log.started == std::vector<std::string>{ids[4], ids[0], ids[3], ids[1], ids[2]});
}

TEST_CASE("orch: cancelling a queued job ends it at once, unknown ids are refused", "[orch]") {
  auto opt = orch_test::options();
  opt.start_paused = true;
  Orchestrator o(opt);
  auto id = o.submit(tiny_job("never runs"));
  REQUIRE(id.ok());
  bool cancelled_event = false;
  o.subscribe(id.value(), [&](const JobEvent& e) { cancelled_event |= e.kind == JobEvent::Kind::cancelled; });
  CHECK(o.cancel(id.value()));
  CHECK(cancelled_event);
  CHECK(o.snapshot(id.value())->state == JobState::cancelled);
  CHECK_FALSE(o.cancel(id.value()));
  CHECK_FALSE(o.cancel("job-999"));
  CHECK(o.subscribe("job-999", [](const JobEvent&) {}) == 0);
  o.resume();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(o.snapshot(id.value())->state == JobState::cancelled);
  CHECK(o.stats_json()["jobs_cancelled"] == 1);
}

TEST_CASE("orch: cancelling a running job stops it between steps", "[orch]") {
  Orchestrator o(orch_test::options());
  auto id = o.submit(tiny_job("long", 3, 40));
  REQUIRE(id.ok());
  o.subscribe(id.value(), [&](const JobEvent& e) {
    if (e.kind == JobEvent::Kind::progress && e.step == 2) o.cancel(e.job_id);
  });
  auto s = wait_done(o, id.value());
  CHECK(s.state == JobState::cancelled);
  CHECK(s.step >= 2);
  CHECK(s.step < 40);
  CHECK(s.images.empty());
  // The worker goes on with the next job.
  auto next = o.submit(tiny_job("after"));
  REQUIRE(next.ok());
  CHECK(wait_done(o, next.value()).state == JobState::done);
}

TEST_CASE("orch: timeouts fail queued and running jobs", "[orch]") {
  auto opt = orch_test::options();
  opt.start_paused = true;
  Orchestrator o(opt);
  auto spec = tiny_job("waits too long");
  spec.timeout_s = 0.05;
  auto queued = o.submit(spec);
  REQUIRE(queued.ok());
  auto s = wait_done(o, queued.value(), 5);
  CHECK(s.state == JobState::failed);
  CHECK_THAT(s.error, Catch::Contains("timed out"));
  CHECK_THAT(s.error, Catch::Contains("queue"));

  o.resume();
  auto slow = tiny_job("runs too long", 1, 150);
  slow.timeout_s = 0.5;
  auto running = o.submit(slow);
  REQUIRE(running.ok());
  s = wait_done(o, running.value());
  CHECK(s.state == JobState::failed);
  CHECK_THAT(s.error, Catch::Contains("timed out"));
  CHECK(s.step < 150);
}

TEST_CASE("orch: a failing job does not stop the worker", "[orch]") {
  const auto dir = sdxl::test_paths::scratch_dir() / "sdxl_orch_bad_lora";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "broken.safetensors") << "this is not a safetensors file";
  auto opt = orch_test::options();
  opt.config.lora_folders = {dir.string()};
  Orchestrator o(opt);
  CHECK(o.loras() == std::vector<std::string>{"broken"});
  auto bad = tiny_job("with a broken LoRA");
  bad.loras = {{"broken", 1.0}};
  auto bad_id = o.submit(bad);
  REQUIRE(bad_id.ok());
  auto good_id = o.submit(tiny_job("fine"));
  REQUIRE(good_id.ok());
  auto b = wait_done(o, bad_id.value());
  CHECK(b.state == JobState::failed);
  CHECK_FALSE(b.error.empty());
  CHECK(wait_done(o, good_id.value()).state == JobState::done);
  // Names never leave the folders.
  auto escape = tiny_job("x");
  escape.loras = {{"../broken", 1.0}};
  CHECK_FALSE(o.submit(escape).ok());
  auto missing = tiny_job("x");
  missing.model = "../../etc/passwd";
  auto r = o.submit(missing);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == sdk::StatusCode::not_found);
  auto sampler = tiny_job("x");
  sampler.sampler = "no_such_sampler";
  CHECK_THAT(o.submit(sampler).status().message(), Catch::Contains("sampler: unknown"));
}

TEST_CASE("orch: shutdown finishes the running job and cancels the queued ones", "[orch]") {
  Orchestrator o(orch_test::options());
  auto first = o.submit(tiny_job("running", 1, 20));
  REQUIRE(first.ok());
  auto queued = o.submit(tiny_job("queued"));
  REQUIRE(queued.ok());
  for (int i = 0; i < 2000 && o.snapshot(first.value())->state == JobState::queued; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(o.snapshot(first.value())->state == JobState::running);
  o.shutdown(true);
  CHECK(o.snapshot(first.value())->state == JobState::done);
  auto q = o.snapshot(queued.value());
  CHECK(q->state == JobState::cancelled);
  CHECK_THAT(q->error, Catch::Contains("shutting down"));
  auto late = o.submit(tiny_job("too late"));
  REQUIRE_FALSE(late.ok());
  CHECK(late.status().code() == sdk::StatusCode::unsupported);
  o.shutdown(true);  // idempotent
}

TEST_CASE("orch: shutdown without draining cancels the running job", "[orch]") {
  Orchestrator o(orch_test::options());
  auto first = o.submit(tiny_job("running", 1, 150));
  REQUIRE(first.ok());
  for (int i = 0; i < 2000 && o.snapshot(first.value())->step < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  o.shutdown(false);
  auto s = o.snapshot(first.value());
  CHECK(s->state == JobState::cancelled);
  CHECK(s->step < 150);
}

TEST_CASE("orch: memory admission through the arbiter refuses what cannot fit and returns what it took",
          "[orch][memory]") {
  memory::Ledger ledger;
  memory::MemoryArbiter arbiter(ledger);
  auto opt = orch_test::options();
  opt.admit = arbiter_admission(arbiter);
  Orchestrator o(opt);
  auto ok = o.submit(tiny_job("fits"));
  REQUIRE(ok.ok());
  CHECK(wait_done(o, ok.value()).state == JobState::done);
  CHECK(arbiter.running_jobs() == 0);  // released after the job
  arbiter.set_budget(c10::Device(c10::kCPU), 1024);  // far below any UNet step's scratch
  auto big = o.submit(tiny_job("cannot fit"));
  REQUIRE(big.ok());
  auto s = wait_done(o, big.value());
  CHECK(s.state == JobState::failed);
  CHECK(s.error_code == sdk::StatusCode::out_of_memory);
  arbiter.set_budget(c10::Device(c10::kCPU), 0);
  auto again = o.submit(tiny_job("fits again"));
  REQUIRE(again.ok());
  CHECK(wait_done(o, again.value()).state == JobState::done);
}

TEST_CASE("orch: affinity groups jobs by LoRA set so the set switches once", "[orch][affinity]") {
  // A kohya LoRA of rank 4 on one UNet module of the demo model.
  const auto dir = sdxl::test_paths::scratch_dir() / "sdxl_orch_affinity_lora";
  test_support::write_demo_kohya_lora(dir / "style.safetensors", {3, 0.1, 2.0});
  auto opt = orch_test::options();
  opt.config.lora_folders = {dir.string()};
  opt.start_paused = true;
  Orchestrator o(opt);
  StartLog log;
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    auto spec = tiny_job("job " + std::to_string(i), i, 1);
    if (i % 2 == 1) spec.loras = {{"style", 0.8}};
    auto id = o.submit(spec);
    REQUIRE(id.ok());
    ids.push_back(id.value());
    log.watch(o, id.value());
  }
  o.resume();
  for (const auto& id : ids) CHECK(wait_done(o, id).state == JobState::done);
  {
    std::lock_guard<std::mutex> lock(log.mu);
    CHECK(log.started == std::vector<std::string>{ids[0], ids[2], ids[1], ids[3]});
  }
  CHECK(o.stats_json()["lora_switches"] == 1);
  // Back to the plain model for whoever uses the shared demo model next.
  auto plain = o.submit(tiny_job("plain again"));
  REQUIRE(plain.ok());
  CHECK(wait_done(o, plain.value()).state == JobState::done);
  auto info = o.snapshot(ids[1])->images.at(0).infotext;
  CHECK_THAT(info, Catch::Contains("LoRAs: \"style:0.8\""));  // quoted: the value holds a colon
}

TEST_CASE("orch: with an arbiter the model's networks are registered, pinned by jobs, and gone after shutdown",
          "[orch][memory]") {
  memory::Ledger ledger;
  memory::MemoryArbiter arbiter(ledger);
  auto opt = orch_test::options();
  opt.admit = arbiter_admission(arbiter);
  opt.arbiter = &arbiter;
  {
    Orchestrator o(opt);
    auto id = o.submit(tiny_job("registered", 5));
    REQUIRE(id.ok());
    REQUIRE(wait_done(o, id.value()).state == JobState::done);
    // The demo model's networks are on the books, on the CPU, and the job's pins are released.
    const auto stats = arbiter.stats_json();
    INFO(stats.dump());
    bool unet = false;
    const nlohmann::json components = stats.value("components", nlohmann::json::object());
    for (const auto& [name, c] : components.items())
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".unet") == 0) {
        unet = true;
        CHECK(c.value("device", std::string()) == "cpu");
        CHECK(c.value("hits", 0) >= 1);  // the job named it
        CHECK(c.value("job_pins", -1) == 0);
      }
    CHECK(unet);
    CHECK(arbiter.running_jobs() == 0);
    o.shutdown(true);
  }
  // Unregistered with the model: nothing of it is left resident in the ledger.
  for (const auto& e : ledger.entries()) CHECK(e.lease);
}
