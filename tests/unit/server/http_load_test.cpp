// A bounded load test on loopback: 8 concurrent clients send a few hundred tiny jobs (native and
// A1111, with invalid ones mixed in). Zero crashes (no 5xx, no dropped connection), zero lost or
// duplicated jobs (every accepted id is unique and ends done with its image), every invalid
// request is a 400, and the memory ledger returns to its baseline. Prints jobs/s.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "http_test_support.h"

using namespace sdxl;
using json = nlohmann::json;

namespace {
json ledger_of(httplib::Client& c) {
  auto [s, j] = test::get_json(c, "/v1/stats");
  REQUIRE(s == 200);
  return j["ledger"];
}
}  // namespace

TEST_CASE("http load: 8 clients, mixed valid and invalid tiny jobs", "[http][load]") {
  constexpr int kClients = 8, kPerClient = 36;
  server::HttpOptions opts;
  opts.threads = 32;
  test::TestServer srv(opts, [](server::OrchestratorOptions& o) { o.max_batch = 8; });
  auto c = srv.client();
  // Warm-up: the model loads once; the baseline is the ledger with the model resident.
  auto [ws, wj] = test::post_json(*c, "/sdapi/v1/txt2img", {{"prompt", "warm"}, {"width", 64}, {"height", 64}, {"steps", 1}});
  REQUIRE(ws == 200);
  const json baseline = ledger_of(*c);

  std::mutex m;
  std::vector<std::string> native_ids;
  std::atomic<int> transport_errors{0}, server_errors{0}, wrong_status{0}, a1111_ok{0}, invalid_sent{0};
  std::vector<std::string> problems;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      auto cl = srv.client();
      const httplib::Headers who = {{"X-Client-Id", "client-" + std::to_string(t)}};
      auto note = [&](const std::string& what) {
        std::lock_guard<std::mutex> lock(m);
        if (problems.size() < 20) problems.push_back(what);
      };
      for (int i = 0; i < kPerClient; ++i) {
        const std::int64_t seed = t * 1000 + i;
        const json job = {{"prompt", "job " + std::to_string(seed)}, {"width", 64}, {"height", 64}, {"steps", 1}, {"seed", seed}};
        int expect = 200;
        auto send = [&]() -> httplib::Result {
          switch (i % 4) {
            case 0:
            case 2: return cl->Post("/v1/jobs", who, job.dump(), "application/json");
            case 1: {
              json a = {{"prompt", job["prompt"]}, {"width", 64}, {"height", 64}, {"steps", 1}, {"seed", seed}};
              return cl->Post("/sdapi/v1/txt2img", who, a.dump(), "application/json");
            }
            default: {  // invalid, four kinds in turn
              expect = 400;
              ++invalid_sent;
              const int kind = (i / 4) % 4;
              if (kind == 0) return cl->Post("/v1/jobs", who, "{\"prompt\": [", "application/json");
              json bad = job;
              if (kind == 1) bad["width"] = 60;
              if (kind == 2) bad["sampler"] = "no_such_sampler";
              if (kind == 3) bad["init_image"] = "%%%";
              return cl->Post(kind == 1 ? "/sdapi/v1/txt2img" : "/v1/jobs", who, bad.dump(), "application/json");
            }
          }
        };
        httplib::Result r = send();
        if (!r) {
          ++transport_errors;
          note("transport error " + httplib::to_string(r.error()));
          continue;
        }
        if (r->status >= 500) ++server_errors, note(std::to_string(r->status) + " " + r->body.substr(0, 200));
        if (r->status != expect) {
          ++wrong_status;
          note("expected " + std::to_string(expect) + ", got " + std::to_string(r->status) + ": " + r->body.substr(0, 200));
          continue;
        }
        if (expect != 200) continue;
        const json body = json::parse(r->body, nullptr, false);
        if (i % 4 == 1) {
          const json info = json::parse(body.value("info", std::string("{}")), nullptr, false);
          if (body["images"].size() == 1 && !info.is_discarded() && info["all_seeds"] == json::array({seed})) ++a1111_ok;
          else note("A1111 reply without its one image or seed: " + r->body.substr(0, 200));
        } else {
          std::lock_guard<std::mutex> lock(m);
          native_ids.push_back(body["id"]);
        }
      }
    });
  }
  for (auto& th : clients) th.join();
  // Every accepted native job ends done with exactly one image of its seed.
  std::set<std::string> unique(native_ids.begin(), native_ids.end());
  std::int64_t done = 0;
  for (const auto& id : native_ids) {
    for (int tries = 0; tries < 6000; ++tries) {
      auto [s, j] = test::get_json(*c, "/v1/jobs/" + id + "?images=0");
      if (s == 200 && (j["state"] == "done" || j["state"] == "failed" || j["state"] == "cancelled")) {
        if (j["state"] == "done") ++done;
        else problems.push_back(id + " ended " + j["state"].get<std::string>() + ": " + j.value("error", ""));
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int valid = static_cast<int>(native_ids.size()) + a1111_ok.load();
  std::cout << "http load: " << kClients << " clients, " << kClients * kPerClient << " requests (" << invalid_sent
            << " invalid), " << valid << " jobs done in " << seconds << " s = " << valid / seconds << " jobs/s\n";
  for (const auto& p : problems) UNSCOPED_INFO(p);
  CHECK(transport_errors == 0);
  CHECK(server_errors == 0);
  CHECK(wrong_status == 0);
  CHECK(unique.size() == native_ids.size());
  CHECK(done == static_cast<std::int64_t>(native_ids.size()));
  CHECK(native_ids.size() == static_cast<std::size_t>(kClients * kPerClient / 2));
  CHECK(a1111_ok == kClients * kPerClient / 4);
  // Flat ledger: the same bytes per device and no scratch lease left behind.
  const json after = ledger_of(*c);
  INFO("baseline " << baseline.dump() << "\nafter " << after.dump());
  CHECK(after["leases"] == 0);
  CHECK(after["entries"] == baseline["entries"]);
  for (auto it = baseline["devices"].begin(); it != baseline["devices"].end(); ++it)
    CHECK(after["devices"][it.key()]["used"] == it.value()["used"]);
  CHECK(test::get_json(*c, "/healthz").first == 200);
}
