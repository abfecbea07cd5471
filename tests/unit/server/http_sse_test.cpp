// Server-Sent Events: wire format and the channel's "exactly one terminal event" rule.
#include <catch2/catch.hpp>

#include <thread>

#include "server/sse.h"

using namespace sdxl;

TEST_CASE("sse events are id, event and one data line of JSON", "[sse]") {
  const std::string e = server::format_sse_event("progress", {{"step", 2}, {"note", "a\nb"}}, 7);
  CHECK(e == "id: 7\nevent: progress\ndata: {\"note\":\"a\\nb\",\"step\":2}\n\n");
}

TEST_CASE("sse channel closes after the first terminal event and drops later ones", "[sse]") {
  server::SseChannel ch;
  ch.push("queued", {{"n", 1}});
  ch.push("progress", {{"n", 2}});
  ch.push("done", {{"n", 3}});
  ch.push("cancelled", {{"n", 4}});  // late duplicate terminal: ignored
  ch.push("progress", {{"n", 5}});
  std::vector<std::string> got;
  std::string ev;
  bool finished = false;
  while (!finished) {
    if (ch.pop(ev, std::chrono::milliseconds(10), finished)) got.push_back(ev);
  }
  REQUIRE(got.size() == 3);
  CHECK(got[0].rfind("id: 1\nevent: queued\n", 0) == 0);
  CHECK(got[2].rfind("id: 3\nevent: done\n", 0) == 0);
}

TEST_CASE("sse channel pop waits for a producer thread and times out when idle", "[sse]") {
  server::SseChannel ch;
  std::string ev;
  bool finished = true;
  CHECK_FALSE(ch.pop(ev, std::chrono::milliseconds(5), finished));
  CHECK_FALSE(finished);
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ch.push("failed", {{"error", "x"}});
  });
  CHECK(ch.pop(ev, std::chrono::seconds(5), finished));
  CHECK(ev.find("event: failed") != std::string::npos);
  producer.join();
  CHECK_FALSE(ch.pop(ev, std::chrono::milliseconds(5), finished));
  CHECK(finished);
  CHECK(server::is_terminal_event("cancelled"));
  CHECK_FALSE(server::is_terminal_event("progress"));
}
