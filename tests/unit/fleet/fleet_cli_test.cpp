// `sdxl worker` processes (path in $SDXL_BIN) on the tiny demo model behind a real redis-server:
// N jobs through 3 workers complete exactly once; a worker SIGKILLed mid-job still has all its jobs
// completed; poisoned jobs land in the dead-letter stream; a Redis restart is survived.
// Tagged [fleet-cli] (hidden): run by tests/fleet.cmake, which sets SDXL_BIN and SDXL_CACHE_DIR.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "fleet/gateway.h"
#include "fleet/job_store.h"
#include "fleet/streams.h"
#include "fleet/worker_registry.h"
#include "fleet_test_support.h"
#include "image/png.h"

using namespace sdxl;
using namespace sdxl::fleet;
using namespace std::chrono_literals;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

struct Fleet {
  testing::TestRedis redis;
  std::vector<testing::ChildProcess> workers;
  std::vector<std::string> names;

  void start_worker(const std::string& name, std::int64_t claim_idle_ms) {
    names.push_back(name);
    workers.push_back(testing::ChildProcess::spawn(
        {env("SDXL_BIN"), "--log-level", "info", "worker", "--redis", redis.url(), "--consumer", name,
         "--claim-idle-ms", std::to_string(claim_idle_ms), "--max-attempts", "3", "--heartbeat-ms", "200",
         "--block-ms", "200"},
        // One compute thread each: several workers share few cores, and OpenMP's spinning
        // threads slow down by orders of magnitude when oversubscribed.
        redis.dir() / (name + ".log"), {"OMP_NUM_THREADS=1"}));
  }
  bool wait_workers(RedisConnection& c, std::size_t n) {
    return testing::wait_until([&] {
      auto live = live_workers(c, FleetKeys{});
      return live.ok() && live.value().size() == n;
    }, 30s);
  }
};

std::string tiny_job(int seed, int steps = 1) {
  return R"({"prompt": "a fox )" + std::to_string(seed) + R"(", "width": 64, "height": 64, "steps": )" +
         std::to_string(steps) + R"(, "seed": )" + std::to_string(seed) + "}";
}

std::string submit(RedisConnection& c, const std::string& json) {
  auto r = submit_job(c, FleetKeys{}, json);
  REQUIRE(r.ok());
  return r.value().id;
}

std::int64_t pending(RedisConnection& c) {
  auto n = pending_count(c, "sdxl:jobs", "workers");
  return n.ok() ? n.value() : -1;
}

std::map<std::string, int> event_counts(RedisConnection& c, const std::string& id) {
  std::map<std::string, int> n;
  auto events = range_all(c, FleetKeys{}.events(id));
  if (events.ok())
    for (const auto& e : events.value()) ++n[e.field("type")];
  return n;
}

bool all_done(RedisConnection& c, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    auto r = result_exists(c, FleetKeys{}, id);
    if (!r.ok() || !r.value()) return false;
  }
  return true;
}

// Every job: one "done" result with one decodable 64×64 PNG carrying A1111 parameters.
void check_results(RedisConnection& c, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    INFO("job " << id);
    auto r = read_result(c, FleetKeys{}, id);
    REQUIRE(r.ok());
    REQUIRE(r.value().has_value());
    CHECK(r.value()->status == "done");
    REQUIRE(r.value()->images_png.size() == 1);
    const auto& png = r.value()->images_png[0];
    auto decoded = image::decode_png(reinterpret_cast<const unsigned char*>(png.data()), png.size(), id);
    REQUIRE(decoded.ok());
    CHECK(decoded.value().pixels.size(0) == 64);
    CHECK(decoded.value().pixels.size(1) == 64);
    CHECK(decoded.value().text.count("parameters") == 1);
    CHECK(event_counts(c, id)["done"] == 1);
  }
}

#define FLEET_PRECONDITIONS(fleet)                                            \
  if (env("SDXL_BIN").empty()) {                                              \
    WARN("SDXL_BIN not set: run through ctest (tests/fleet.cmake)");          \
    return;                                                                   \
  }                                                                           \
  if (!(fleet).redis.ok()) {                                                  \
    WARN("redis-server could not be started: test skipped");                 \
    return;                                                                   \
  }

}  // namespace

TEST_CASE("fleet-cli: jobs through three worker processes complete exactly once", "[.][fleet-cli-once]") {
  Fleet fleet;
  FLEET_PRECONDITIONS(fleet);
  RedisConnection c(fleet.redis.endpoint());
  for (int w = 0; w < 3; ++w) fleet.start_worker("w" + std::to_string(w), 20000);
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(submit(c, tiny_job(i)));
  REQUIRE(testing::wait_until([&] { return all_done(c, ids); }, 60s));
  check_results(c, ids);
  std::set<std::string> workers_used;
  for (const auto& id : ids) {
    CHECK(event_counts(c, id)["started"] == 1);  // never run twice
    workers_used.insert(read_result(c, FleetKeys{}, id).value()->worker);
  }
  CHECK(workers_used.size() >= 2);
  REQUIRE(testing::wait_until([&] { return pending(c) == 0; }, 5s));
  // Same seed, same picture: the stored PNG matches a job with the same fields run again.
  const std::string again = submit(c, tiny_job(3));
  REQUIRE(testing::wait_until([&] { return all_done(c, {again}); }, 30s));
  CHECK(read_result(c, FleetKeys{}, again).value()->images_png == read_result(c, FleetKeys{}, ids[3]).value()->images_png);
  // A clean stop (SIGTERM) withdraws the advert.
  for (auto& w : fleet.workers) CHECK(w.stop(SIGTERM, 10s) == 0);
  CHECK(live_workers(c, FleetKeys{}).value().empty());
}

TEST_CASE("fleet-cli: a worker killed mid-job leaves no job behind", "[.][fleet-cli-kill]") {
  Fleet fleet;
  FLEET_PRECONDITIONS(fleet);
  RedisConnection c(fleet.redis.endpoint());
  for (int w = 0; w < 2; ++w) fleet.start_worker("k" + std::to_string(w), 1500);
  REQUIRE(fleet.wait_workers(c, 2));
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(submit(c, tiny_job(100 + i, 16)));
  // Find a worker that is running a job right now and SIGKILL it.
  std::string victim_job;
  pid_t victim = -1;
  REQUIRE(testing::wait_until([&] {
    auto live = live_workers(c, FleetKeys{});
    if (!live.ok()) return false;
    for (const auto& w : live.value())
      if (!w.current_job.empty()) {
        victim_job = w.current_job;
        victim = static_cast<pid_t>(w.pid);
        return true;
      }
    return false;
  }, 30s));
  bool killed = false;
  for (auto& w : fleet.workers)
    if (w.pid() == victim) {
      w.kill_now(SIGKILL);
      killed = true;
    }
  REQUIRE(killed);
  REQUIRE(testing::wait_until([&] { return all_done(c, ids); }, 60s));
  check_results(c, ids);
  // The victim's job was started twice (the kill, then the takeover) and finished once.
  CHECK(event_counts(c, victim_job)["started"] >= 2);
  CHECK(event_counts(c, victim_job)["done"] == 1);
  REQUIRE(testing::wait_until([&] { return pending(c) == 0; }, 10s));
}

TEST_CASE("fleet-cli: poisoned jobs land in the dead-letter stream", "[.][fleet-cli-poison]") {
  Fleet fleet;
  FLEET_PRECONDITIONS(fleet);
  RedisConnection c(fleet.redis.endpoint());
  fleet.start_worker("p0", 1000);
  const std::string bad_size = submit(c, R"({"prompt": "x", "width": 100, "height": 64})");
  const std::string bad_model = submit(c, R"({"prompt": "x", "model": "no-such-model"})");
  REQUIRE(add_entry(c, "sdxl:jobs", {{"id", "garbage"}, {"job", "{not json"}}).ok());
  const std::string good = submit(c, tiny_job(7));
  REQUIRE(testing::wait_until([&] { return all_done(c, {good, bad_size, bad_model, "garbage"}); }, 60s));
  check_results(c, {good});
  std::map<std::string, DeadLetter> dead;
  auto letters = read_dead_letters(c, FleetKeys{});
  REQUIRE(letters.ok());
  for (auto& d : letters.value()) dead[d.job_id] = d;
  REQUIRE(dead.count(bad_size));
  CHECK(dead[bad_size].error.find("width") != std::string::npos);
  REQUIRE(dead.count(bad_model));
  CHECK(dead[bad_model].error.find("no-such-model") != std::string::npos);
  REQUIRE(dead.count("garbage"));
  CHECK(read_result(c, FleetKeys{}, bad_size).value()->status == "failed");
  CHECK(dead.size() == 3);
}

TEST_CASE("fleet-cli: workers reconnect after Redis restarts", "[.][fleet-cli-restart]") {
  Fleet fleet;
  FLEET_PRECONDITIONS(fleet);
  RedisConnection c(fleet.redis.endpoint());
  fleet.start_worker("r0", 3000);
  fleet.start_worker("r1", 3000);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(submit(c, tiny_job(200 + i, 8)));
  REQUIRE(testing::wait_until([&] { return all_done(c, {ids[0]}); }, 60s));
  REQUIRE(fleet.redis.restart_keeping_data());  // queued and running jobs survive in dump.rdb
  RedisConnection c2(fleet.redis.endpoint());
  for (int i = 4; i < 6; ++i) ids.push_back(submit(c2, tiny_job(200 + i)));
  REQUIRE(testing::wait_until([&] { return all_done(c2, ids); }, 60s));
  check_results(c2, ids);
  REQUIRE(fleet.redis.restart_empty());  // everything lost, consumer group included
  RedisConnection c3(fleet.redis.endpoint());
  const std::string after = submit(c3, tiny_job(300));
  REQUIRE(testing::wait_until([&] { return all_done(c3, {after}); }, 30s));
  check_results(c3, {after});
}
