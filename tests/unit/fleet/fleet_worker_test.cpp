// The fleet's Redis layer against a real redis-server (started on a free loopback port per test):
// stream/consumer-group operations, and FleetWorker threads with a scripted JobRunner — exactly
// once completion, idempotency, retries and the dead letter, takeover of abandoned entries,
// affinity routing and Redis restarts.
#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <thread>

#include "fleet/fleet_worker.h"
#include "fleet/gateway.h"
#include "fleet/job_store.h"
#include "fleet/streams.h"
#include "fleet/worker_registry.h"
#include "fleet_test_support.h"

using namespace sdxl;
using namespace sdxl::fleet;
using namespace std::chrono_literals;

namespace {

// A job is JSON {"prompt": P, "fail": "internal"|"invalid", "sleep_ms": N}. Records every run.
class ScriptedRunner : public JobRunner {
 public:
  explicit ScriptedRunner(std::vector<std::string> models = {}) : models_(std::move(models)) {}
  sdk::Result<JobOutput> run(const std::string& id, const std::string& job_json, const ProgressFn& progress) override {
    auto job = nlohmann::json::parse(job_json);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++runs_[id];
    }
    if (job.contains("sleep_ms")) std::this_thread::sleep_for(std::chrono::milliseconds(job["sleep_ms"].get<int>()));
    progress(1, 2);
    progress(2, 2);
    if (job.value("fail", "") == "internal") return sdk::internal_error("scripted failure of " + id);
    if (job.value("fail", "") == "invalid") return sdk::invalid_argument("field 'width': scripted refusal");
    JobOutput out;
    out.images_png = {"PNG-of-" + id, "second-" + id};
    out.metadata = {{"prompt", job.value("prompt", "")}};
    return out;
  }
  std::vector<std::string> models() const override { return models_; }
  int runs(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    return runs_[id];
  }
  int total_runs() {
    std::lock_guard<std::mutex> lock(mutex_);
    int n = 0;
    for (auto& [k, v] : runs_) n += v;
    return n;
  }

 private:
  std::vector<std::string> models_;
  std::mutex mutex_;
  std::map<std::string, int> runs_;
};

// Worker threads that are always stopped and joined, even when a REQUIRE fails.
struct WorkerThreads {
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<FleetWorker>> workers;
  std::vector<std::thread> threads;
  void add(WorkerOptions o, JobRunner& r) {
    workers.push_back(std::make_unique<FleetWorker>(std::move(o), r));
    FleetWorker* w = workers.back().get();
    threads.emplace_back([this, w] { w->run(stop); });
  }
  ~WorkerThreads() {
    stop = true;
    for (auto& t : threads) t.join();
  }
};

WorkerOptions options_for(const testing::TestRedis& redis, const std::string& name) {
  WorkerOptions o;
  o.endpoint = redis.endpoint();
  o.consumer = name;
  o.block_ms = 100;
  o.heartbeat_ms = 100;
  o.claim_idle_ms = 400;
  o.max_attempts = 2;
  o.result_ttl_s = 600;
  return o;
}

std::string submit(RedisConnection& c, const std::string& json) {
  auto r = submit_job(c, FleetKeys{}, json);
  REQUIRE(r.ok());
  return r.value().id;
}

std::vector<std::string> event_types(RedisConnection& c, const std::string& id) {
  std::vector<std::string> out;
  auto events = range_all(c, FleetKeys{}.events(id));
  REQUIRE(events.ok());
  for (const auto& e : events.value()) out.push_back(e.field("type"));
  return out;
}

// Entries pending in the shared stream's group; -1 while the group does not exist (yet).
std::int64_t pending(RedisConnection& c) {
  auto n = pending_count(c, "sdxl:jobs", "workers");
  return n.ok() ? n.value() : -1;
}

bool has_result(RedisConnection& c, const std::string& id) {
  auto r = result_exists(c, FleetKeys{}, id);
  return r.ok() && r.value();
}

int count_of(const std::vector<std::string>& v, const std::string& what) {
  return static_cast<int>(std::count(v.begin(), v.end(), what));
}

#define REQUIRE_REDIS(redis)                                   \
  if (!(redis).ok()) {                                         \
    WARN("redis-server could not be started: test skipped");  \
    return;                                                    \
  }

}  // namespace

TEST_CASE("fleet: redis:// URLs", "[fleet]") {
  auto e = parse_redis_url("redis://:secret@10.0.0.5:6380/2");
  REQUIRE(e.ok());
  CHECK(e.value().host == "10.0.0.5");
  CHECK(e.value().port == 6380);
  CHECK(e.value().db == 2);
  CHECK(e.value().password == "secret");
  auto d = parse_redis_url("redis://");
  REQUIRE(d.ok());
  CHECK(d.value().text() == "127.0.0.1:6379");
  CHECK_FALSE(parse_redis_url("http://x").ok());
  CHECK_FALSE(parse_redis_url("redis://host:99999").ok());
  CHECK_FALSE(parse_redis_url("redis://host/x").ok());
}

TEST_CASE("fleet: consumer groups, pending entries and claims", "[fleet]") {
  testing::TestRedis redis;
  REQUIRE_REDIS(redis);
  RedisConnection c(redis.endpoint());
  REQUIRE(ensure_group(c, "s", "g").ok());
  REQUIRE(ensure_group(c, "s", "g").ok());  // BUSYGROUP is not an error
  REQUIRE(add_entry(c, "s", {{"id", "a"}, {"job", "{}"}}).ok());
  auto read = read_group(c, "g", "alice", {"s"}, 10, 100);
  REQUIRE(read.ok());
  REQUIRE(read.value().size() == 1);
  const auto entry = read.value()[0];
  CHECK(entry.field("id") == "a");
  auto info = pending_info(c, "s", "g", entry.id);
  REQUIRE(info.ok());
  CHECK(info.value().consumer == "alice");
  CHECK(info.value().deliveries == 1);
  // Not idle long enough: nobody can take it yet.
  auto early = auto_claim(c, "s", "g", "bob", 60000, 10);
  REQUIRE(early.ok());
  CHECK(early.value().empty());
  std::this_thread::sleep_for(150ms);
  // The owner's touch resets idle time without counting a delivery.
  REQUIRE(touch_pending(c, "s", "g", "alice", entry.id).ok());
  info = pending_info(c, "s", "g", entry.id);
  CHECK(info.value().idle_ms < 100);
  CHECK(info.value().deliveries == 1);
  std::this_thread::sleep_for(150ms);
  auto claimed = auto_claim(c, "s", "g", "bob", 100, 10);
  REQUIRE(claimed.ok());
  REQUIRE(claimed.value().size() == 1);
  CHECK(claimed.value()[0].id == entry.id);
  info = pending_info(c, "s", "g", entry.id);
  CHECK(info.value().consumer == "bob");
  CHECK(info.value().deliveries == 2);
  REQUIRE(ack(c, "s", "g", entry.id).ok());
  CHECK(pending_count(c, "s", "g").value() == 0);
  // Unknown group: an error reply, the connection stays up.
  auto nogroup = read_group(c, "nope", "x", {"s"}, 1, -1);
  CHECK_FALSE(nogroup.ok());
  CHECK(is_reply_error(nogroup.status(), "NOGROUP"));
  CHECK(c.connected());
}

TEST_CASE("fleet: three workers complete every job exactly once", "[fleet]") {
  testing::TestRedis redis;
  REQUIRE_REDIS(redis);
  RedisConnection c(redis.endpoint());
  ScriptedRunner runner;
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(submit(c, R"({"prompt": "p)" + std::to_string(i) + R"("})"));
  {
    WorkerThreads pool;
    for (int w = 0; w < 3; ++w) pool.add(options_for(redis, "w" + std::to_string(w)), runner);
    REQUIRE(testing::wait_until([&] { return runner.total_runs() >= 30 && pending(c) == 0; }, 20s));
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    INFO("job " << i);
    CHECK(runner.runs(ids[i]) == 1);
    auto r = read_result(c, FleetKeys{}, ids[i]);
    REQUIRE(r.ok());
    REQUIRE(r.value().has_value());
    CHECK(r.value()->status == "done");
    REQUIRE(r.value()->images_png.size() == 2);
    CHECK(r.value()->images_png[0] == "PNG-of-" + ids[i]);
    CHECK(r.value()->metadata["prompt"] == "p" + std::to_string(i));
    const auto types = event_types(c, ids[i]);
    CHECK(count_of(types, "queued") == 1);
    CHECK(count_of(types, "started") == 1);
    CHECK(count_of(types, "progress") == 2);
    CHECK(count_of(types, "done") == 1);
    CHECK(types.back() == "done");
  }
  CHECK(runner.total_runs() == 30);
}

TEST_CASE("fleet: a job whose result exists is acknowledged without running again", "[fleet]") {
  testing::TestRedis redis;
  REQUIRE_REDIS(redis);
  RedisConnection c(redis.endpoint());
  JobOutput earlier;
  earlier.images_png = {"old"};
  REQUIRE(store_result(c, FleetKeys{}, "dup", "someone", earlier, 600).value() == true);
  CHECK(store_result(c, FleetKeys{}, "dup", "else", earlier, 600).value() == false);  // write-once
  submit(c, R"({"id": "dup", "prompt": "x"})");
  const std::string fresh = submit(c, R"({"prompt": "y"})");
  ScriptedRunner runner;
  WorkerThreads pool;
  pool.add(options_for(redis, "w"), runner);
  REQUIRE(testing::wait_until([&] { return has_result(c, fresh); }, 10s));
  REQUIRE(testing::wait_until([&] { return pending(c) == 0; }, 5s));
  CHECK(runner.runs("dup") == 0);
  CHECK(read_result(c, FleetKeys{}, "dup").value()->images_png == std::vector<std::string>{"old"});
  CHECK(pool.workers[0]->counters().duplicates == 1);
}

TEST_CASE("fleet: failing jobs are retried, then dead-lettered with their error", "[fleet]") {
  testing::TestRedis redis;
  REQUIRE_REDIS(redis);
  RedisConnection c(redis.endpoint());
  const std::string flaky = submit(c, R"({"prompt": "boom", "fail": "internal"})");
  const std::string refused = submit(c, R"({"prompt": "bad", "fail": "invalid"})");
  const std::string good = submit(c, R"({"prompt": "fine"})");
  REQUIRE(add_entry(c, "sdxl:jobs", {{"id", "nojob"}}).ok());  // a malformed entry
  ScriptedRunner runner;
  WorkerThreads pool;
  pool.add(options_for(redis, "w1"), runner);  // max_attempts 2, claim after 400 ms idle
  pool.add(options_for(redis, "w2"), runner);
  REQUIRE(testing::wait_until([&] { auto d = read_dead_letters(c, FleetKeys{}); return d.ok() && d.value().size() == 3; }, 15s));
  auto dead = read_dead_letters(c, FleetKeys{}).value();
  std::map<std::string, DeadLetter> by_id;
  for (auto& d : dead) by_id[d.job_id] = d;
  REQUIRE(by_id.count(flaky));
  CHECK(by_id[flaky].deliveries == 3);  // delivered twice and failed, the third delivery gives up
  CHECK(by_id[flaky].error.find("scripted failure of " + flaky) != std::string::npos);
  CHECK(runner.runs(flaky) == 2);
  CHECK(nlohmann::json::parse(by_id[flaky].job_json)["prompt"] == "boom");
  REQUIRE(by_id.count(refused));
  CHECK(by_id[refused].deliveries == 1);  // invalid: no point retrying
  CHECK(by_id[refused].error.find("field 'width'") != std::string::npos);
  CHECK(runner.runs(refused) == 1);
  CHECK(by_id.count("nojob"));
  auto failed = read_result(c, FleetKeys{}, flaky).value();
  REQUIRE(failed.has_value());
  CHECK(failed->status == "failed");
  CHECK(count_of(event_types(c, flaky), "failed") == 1);
  CHECK(read_result(c, FleetKeys{}, good).value()->status == "done");
  REQUIRE(testing::wait_until([&] { return pending(c) == 0; }, 5s));
}

TEST_CASE("fleet: an entry abandoned by a dead consumer is taken over", "[fleet]") {
  testing::TestRedis redis;
  REQUIRE_REDIS(redis);
  RedisConnection c(redis.endpoint());
  const std::string id = submit(c, R"({"prompt": "orphan"})");
  REQUIRE(ensure_group(c, "sdxl:jobs", "workers").ok());
  // "ghost" takes the entry and dies without acknowledging it.
  REQUIRE(read_group(c, "workers", "ghost", {"sdxl:jobs"}, 1, -1).value().size() == 1);
  ScriptedRunner runner;
  WorkerThreads pool;
  pool.add(options_for(redis, "live"), runner);
  REQUIRE(testing::wait_until([&] { return has_result(c, id); }, 10s));
  CHECK(runner.runs(id) == 1);
  CHECK(read_result(c, FleetKeys{}, id).value()->worker == "live");
}

TEST_CASE("fleet: a long job is not stolen from its live worker", "[fleet]") {
  testing::TestRedis redis;
  REQUIRE_REDIS(redis);
  RedisConnection c(redis.endpoint());
  const std::string id = submit(c, R"({"prompt": "slow", "sleep_ms": 1500})");  // > 3 × claim_idle_ms
  ScriptedRunner runner;
  WorkerThreads pool;
  pool.add(options_for(redis, "a"), runner);
  pool.add(options_for(redis, "b"), runner);
  REQUIRE(testing::wait_until([&] { return has_result(c, id); }, 10s));
  std::this_thread::sleep_for(500ms);
  CHECK(runner.runs(id) == 1);
}

TEST_CASE("fleet: jobs go to the stream of a worker holding their model", "[fleet]") {
  testing::TestRedis redis;
  REQUIRE_REDIS(redis);
  RedisConnection c(redis.endpoint());
  FleetKeys keys;
  ScriptedRunner runner({"modelA"});
  WorkerThreads pool;
  pool.add(options_for(redis, "holder"), runner);
  REQUIRE(testing::wait_until([&] { auto w = live_workers(c, keys); return w.ok() && w.value().size() == 1; }, 5s));
  auto a = submit_job(c, keys, R"({"model": "modelA", "prompt": "x"})");
  auto b = submit_job(c, keys, R"({"model": "modelB", "prompt": "y"})");
  auto plain = submit_job(c, keys, R"({"prompt": "z"})");
  REQUIRE(a.ok());
  CHECK(a.value().stream == keys.model_stream("modelA"));
  CHECK(b.value().stream == keys.shared_stream());
  CHECK(plain.value().stream == keys.shared_stream());
  // A worker that advertised modelC and then vanished: its stream is drained by the others.
  WorkerAdvert ghost;
  ghost.name = "ghost";
  ghost.models = {"modelC"};
  REQUIRE(advertise(c, keys, ghost, 300).ok());
  auto orphan = submit_job(c, keys, R"({"model": "modelC", "prompt": "w"})");
  CHECK(orphan.value().stream == keys.model_stream("modelC"));
  for (const auto* r : {&a, &b, &plain, &orphan})
    REQUIRE(testing::wait_until([&] { return has_result(c, r->value().id); }, 10s));
  CHECK_FALSE(submit_job(c, keys, "[1, 2]").ok());
  CHECK_FALSE(submit_job(c, keys, R"({"id": 5})").ok());
}

TEST_CASE("fleet: workers reconnect after a Redis restart", "[fleet]") {
  testing::TestRedis redis;
  REQUIRE_REDIS(redis);
  ScriptedRunner runner;
  WorkerThreads pool;
  pool.add(options_for(redis, "w1"), runner);
  pool.add(options_for(redis, "w2"), runner);
  std::string before;
  {
    RedisConnection c(redis.endpoint());
    before = submit(c, R"({"prompt": "before"})");
    REQUIRE(testing::wait_until([&] { return has_result(c, before); }, 10s));
  }
  // Persisted restart: queued jobs survive and are served once the workers are back.
  {
    RedisConnection c(redis.endpoint());
    for (int i = 0; i < 3; ++i) submit(c, R"({"prompt": "queued", "sleep_ms": 600})");
  }
  REQUIRE(redis.restart_keeping_data());
  RedisConnection c(redis.endpoint());
  REQUIRE(testing::wait_until([&] {
    auto len = c.command({"XLEN", "sdxl:jobs"});
    return len.ok() && len.value().integer == 4 && pending(c) == 0 &&
           runner.total_runs() >= 4;
  }, 15s));
  // Restart without data: the group is gone; workers re-create it and take new jobs.
  REQUIRE(redis.restart_empty());
  RedisConnection c2(redis.endpoint());
  const std::string after = submit(c2, R"({"prompt": "after"})");
  REQUIRE(testing::wait_until([&] { return has_result(c2, after); }, 15s));
  CHECK(runner.runs(after) == 1);
  std::int64_t reconnects = 0;
  for (auto& w : pool.workers) reconnects += w->counters().reconnects;
  CHECK(reconnects >= 2);
}
