// Which queued job runs next: priority, then affinity (bounded by the oldest job's wait), then
// round robin between clients; batch mates in priority and submission order.
#include <catch2/catch.hpp>

#include "server/job_queue.h"

using namespace sdxl::server;
using Clock = std::chrono::steady_clock;

namespace {
struct Builder {
  JobQueue q;
  std::uint64_t seq = 0;
  Clock::time_point t0 = Clock::now();
  void add(const std::string& id, std::int64_t prio, const std::string& client, const std::string& affinity = "m",
           double age_s = 0) {
    ++seq;
    q.push({id, prio, client, seq, t0 - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(age_s)),
            affinity});
  }
  std::vector<std::string> run(const std::string& loaded = "", double max_wait = 30) {
    std::vector<std::string> ids;
    while (auto e = q.pop_next(loaded, t0, max_wait)) ids.push_back(e->id);
    return ids;
  }
};
}  // namespace

TEST_CASE("orch queue: higher priority first, submission order within a client", "[orch][queue]") {
  Builder b;
  b.add("a", 0, "c");
  b.add("b", 5, "c");
  b.add("c", 0, "c");
  b.add("d", 5, "c");
  b.add("e", -1, "c");
  CHECK(b.run() == std::vector<std::string>{"b", "d", "a", "c", "e"});
}

TEST_CASE("orch queue: clients at equal priority take turns", "[orch][queue]") {
  Builder b;
  b.add("x1", 0, "x");
  b.add("x2", 0, "x");
  b.add("x3", 0, "x");
  b.add("y1", 0, "y");
  b.add("z1", 0, "z");
  b.add("y2", 0, "y");
  CHECK(b.run() == std::vector<std::string>{"x1", "y1", "z1", "x2", "y2", "x3"});
}

TEST_CASE("orch queue: a client that has just been served waits for the others", "[orch][queue]") {
  Builder b;
  b.add("x1", 0, "x");
  CHECK(b.q.pop_next("", b.t0, 30)->id == "x1");
  b.add("x2", 0, "x");
  b.add("y1", 0, "y");  // submitted later, but y was never served
  CHECK(b.run() == std::vector<std::string>{"y1", "x2"});
}

TEST_CASE("orch queue: affinity prefers the loaded model until the oldest job waited too long", "[orch][queue]") {
  {
    Builder b;
    b.add("other", 0, "c", "m2", 5);
    b.add("same", 0, "c", "m1", 1);
    CHECK(b.run("m1", 30).front() == "same");
  }
  {
    Builder b;
    b.add("other", 0, "c", "m2", 60);  // older than the bound: it goes first
    b.add("same", 0, "c", "m1", 1);
    CHECK(b.run("m1", 30).front() == "other");
  }
  {
    Builder b;  // affinity never beats priority
    b.add("same", 0, "c", "m1");
    b.add("urgent", 1, "c", "m2");
    CHECK(b.run("m1", 30).front() == "urgent");
  }
}

TEST_CASE("orch queue: take_if offers jobs by priority then submission and removes what it takes", "[orch][queue]") {
  Builder b;
  b.add("a", 0, "c");
  b.add("b", 2, "c");
  b.add("c", 1, "c");
  b.add("d", 2, "c");
  std::vector<std::string> offered;
  auto taken = b.q.take_if([&](const QueueEntry& e) {
    offered.push_back(e.id);
    return e.id != "c";
  });
  CHECK(offered == std::vector<std::string>{"b", "d", "c", "a"});
  REQUIRE(taken.size() == 3);
  CHECK(b.q.size() == 1);
  CHECK(b.q.order("", b.t0, 30) == std::vector<std::string>{"c"});
  CHECK(b.q.remove("c"));
  CHECK_FALSE(b.q.remove("c"));
  CHECK(b.q.empty());
}
