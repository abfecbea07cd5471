// `sdxl serve` as a separate process (path in $SDXL_BIN; run through ctest, tests/server.cmake):
// an A1111-style client against it, `sdxl status`, and graceful shutdown on SIGTERM (the running
// job finishes, queued jobs end cancelled, exit code 0).
#include <catch2/catch.hpp>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/job.h"
#include "temp_file.h"

using json = nlohmann::json;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// A started `sdxl serve`; the port comes from its first stdout line.
struct ServeProcess {
  pid_t pid = -1;
  int port = 0;
  FILE* out = nullptr;

  explicit ServeProcess(const std::vector<std::string>& args) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv;
      static std::string bin = env("SDXL_BIN");
      argv.push_back(bin.data());
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    out = fdopen(fds[0], "r");
    char line[512];
    REQUIRE(std::fgets(line, sizeof(line), out) != nullptr);  // blocks until it listens (or dies)
    const std::string s = line;
    INFO(s);
    REQUIRE(s.find("listening on http://") != std::string::npos);
    port = std::stoi(s.substr(s.rfind(':') + 1));
  }
  /// Sends `sig` and waits (up to 120 s) for the exit code; -1 if it did not exit normally.
  int stop(int sig) {
    kill(pid, sig);
    int status = 0;
    for (int i = 0; i < 1200; ++i) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -2;
  }
  ~ServeProcess() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (out) fclose(out);
  }
};

}  // namespace

TEST_CASE("serve: an A1111 client, sdxl status, then SIGTERM exits 0", "[serve-cli]") {
  if (env("SDXL_BIN").empty()) {
    WARN("SDXL_BIN not set: run through ctest (tests/server.cmake)");
    return;
  }
  const auto config = sdxl::test_support::write_temp_file("sdxl_serve_cli.toml", "[server]\nport = 0\napi_key = \"k3y\"\n");
  ServeProcess p({"serve", "--config", config});
  httplib::Client c("127.0.0.1", p.port);
  c.set_read_timeout(120, 0);
  const httplib::Headers key = {{"Authorization", "Bearer k3y"}};
  auto health = c.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(c.Get("/v1/models")->status == 401);  // the key from [server] api_key is enforced

  const json req = {{"prompt", "a lighthouse"}, {"width", 64}, {"height", 64}, {"steps", 2}, {"seed", 21}};
  auto r = c.Post("/sdapi/v1/txt2img", key, req.dump(), "application/json");
  REQUIRE(r);
  INFO(r->body.substr(0, 300));
  REQUIRE(r->status == 200);
  const json out = json::parse(r->body);
  REQUIRE(out["images"].size() == 1);
  auto info = c.Post("/sdapi/v1/png-info", key, json{{"image", out["images"][0]}}.dump(), "application/json");
  REQUIRE(info);
  REQUIRE(info->status == 200);
  const json pi = json::parse(info->body);
  CHECK(pi["parameters"]["Seed"] == "21");
  CHECK(pi["parameters"]["Prompt"] == "a lighthouse");

  const std::string status_cmd = env("SDXL_BIN") + " status --url http://127.0.0.1:" + std::to_string(p.port) +
                                 " --api-key k3y --json > /dev/null 2>&1";
  CHECK(std::system(status_cmd.c_str()) == 0);
  const std::string wrong_key = env("SDXL_BIN") + " status --url http://127.0.0.1:" + std::to_string(p.port) +
                                " --api-key nope > /dev/null 2>&1";
  CHECK(std::system(wrong_key.c_str()) != 0);
  CHECK(p.stop(SIGTERM) == 0);
}

TEST_CASE("serve: SIGTERM lets the running job finish and cancels the queued ones", "[serve-cli]") {
  if (env("SDXL_BIN").empty()) {
    WARN("SDXL_BIN not set: run through ctest (tests/server.cmake)");
    return;
  }
  // --max-batch 1: no cross-request batching, so one job runs and the others wait.
  ServeProcess p({"serve", "--port", "0", "--max-batch", "1"});
  httplib::Client c("127.0.0.1", p.port);
  c.set_read_timeout(120, 0);
  std::vector<std::string> ids;
  for (int k = 0; k < 4; ++k) {
    const json job = {{"prompt", "job " + std::to_string(k)}, {"width", 64}, {"height", 64}, {"steps", 20}, {"seed", k}};
    auto r = c.Post("/v1/jobs", job.dump(), "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    ids.push_back(json::parse(r->body)["id"]);
  }
  std::vector<std::string> streams(ids.size());
  std::vector<std::thread> readers;
  for (std::size_t k = 0; k < ids.size(); ++k)
    readers.emplace_back([&, k] {
      httplib::Client rc("127.0.0.1", p.port);
      rc.set_read_timeout(120, 0);
      rc.Get(("/v1/jobs/" + ids[k] + "/events").c_str(), [&, k](const char* d, size_t n) {
        streams[k].append(d, n);
        return true;
      });
    });
  // Wait until the first job runs, then ask the server to stop.
  for (int i = 0; i < 600; ++i) {
    auto r = c.Get(("/v1/jobs/" + ids[0] + "?images=0").c_str());
    if (r && json::parse(r->body)["state"] != "queued") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int code = p.stop(SIGTERM);
  for (auto& t : readers) t.join();
  CHECK(code == 0);
  int cancelled = 0;
  for (std::size_t k = 0; k < ids.size(); ++k) {
    INFO("job " << k << ":\n" << streams[k]);
    const auto terminals = [&](const char* e) {
      std::size_t n = 0;
      for (auto pos = streams[k].find(e); pos != std::string::npos; pos = streams[k].find(e, pos + 1)) ++n;
      return n;
    };
    // Exactly one terminal event per stream.
    CHECK(terminals("event: done") + terminals("event: failed") + terminals("event: cancelled") == 1);
    if (k == 0) CHECK(terminals("event: done") == 1);  // drained, not cut off
    cancelled += static_cast<int>(terminals("event: cancelled"));
  }
  CHECK(cancelled >= 2);  // the queued ones (the second may have started just before the signal)
}
