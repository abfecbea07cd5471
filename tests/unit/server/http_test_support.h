#pragma once
// Test support for the HTTP layer: an in-process server (Orchestrator on the demo model + the
// HTTP front on a free loopback port) and a client that talks to it the way A1111 clients do:
// httplib::Client, JSON bodies, base64 PNGs.

#include <ATen/ATen.h>
#include <httplib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "demo_model_fixture.h"
#include "image/png.h"
#include "plugins/registry.h"
#include "server/http_server.h"
#include "server/job.h"
#include "server/orchestrator.h"
#include "test_paths.h"

namespace sdxl::test {

inline std::shared_ptr<plugins::PluginRegistry> loaded_registry() {
  static std::shared_ptr<plugins::PluginRegistry> reg = test_support::built_plugins();
  return reg;
}

struct TestServer {
  std::shared_ptr<plugins::PluginRegistry> registry = loaded_registry();
  std::unique_ptr<server::Orchestrator> orch;
  std::unique_ptr<server::HttpServer> http;
  std::thread thread;
  int port = 0;

  explicit TestServer(server::HttpOptions options = {},
                      const std::function<void(server::OrchestratorOptions&)>& tweak = {}) {
    server::OrchestratorOptions o;
    o.registry = registry;
    o.demo_cache_dir = sdxl::test_paths::build_dir() / "test-cache";
    o.max_batch = 4;
    if (tweak) tweak(o);
    orch = std::make_unique<server::Orchestrator>(o);
    server::HttpContext ctx;
    ctx.orchestrator = orch.get();
    ctx.registry = registry;
    ctx.limits = o.limits;
    ctx.config = o.config;  // as `sdxl serve` does: one configuration for both
    options.host = "127.0.0.1";
    options.port = 0;
    http = std::make_unique<server::HttpServer>(options, ctx);
    auto p = http->bind();
    REQUIRE(p.ok());
    port = p.value();
    thread = std::thread([this] { http->run(); });
  }
  ~TestServer() {
    orch->shutdown(true);
    http->stop();
    if (thread.joinable()) thread.join();
    http.reset();
    orch.reset();
  }
  std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
    c->set_read_timeout(120, 0);
    c->set_write_timeout(30, 0);
    return c;
  }
};

/// Status and parsed body (null when the body is not JSON).
inline std::pair<int, nlohmann::json> post_json(httplib::Client& c, const std::string& path, const nlohmann::json& body,
                                                const httplib::Headers& headers = {}) {
  auto r = c.Post(path.c_str(), headers, body.dump(), "application/json");
  if (!r) return {-1, nullptr};
  return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
}

inline std::pair<int, nlohmann::json> get_json(httplib::Client& c, const std::string& path,
                                               const httplib::Headers& headers = {}) {
  auto r = c.Get(path.c_str(), headers);
  if (!r) return {-1, nullptr};
  return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
}

/// A w×h RGB PNG of a horizontal gradient, base64 (as an A1111 client sends an init image).
inline std::string gradient_png_base64(std::int64_t w, std::int64_t h) {
  at::Tensor x = at::arange(w, at::kFloat).mul(255.0 / std::max<std::int64_t>(1, w - 1)).to(at::kByte);
  at::Tensor px = x.view({1, w, 1}).expand({h, w, 3}).contiguous();
  auto png = image::encode_png(px);
  REQUIRE(png.ok());
  return server::base64_encode(png.value().data(), png.value().size());
}

inline image::PngImage decode_base64_png(const std::string& b64) {
  auto bytes = server::base64_decode(b64, "test image");
  REQUIRE(bytes.ok());
  auto png = image::decode_png(bytes.value().data(), bytes.value().size(), "test image");
  REQUIRE(png.ok());
  return png.value();
}

}  // namespace sdxl::test
