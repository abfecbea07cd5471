#pragma once
// Shared fixtures of the orchestrator tests: the plugin registry, the demo model (loaded once per
// process and handed to every Orchestrator through its load_model hook), and waiting helpers.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "demo_model_fixture.h"
#include "models/demo/demo_model.h"
#include "pipeline/sdxl_model.h"
#include "plugins/registry.h"
#include "server/orchestrator.h"
#include "test_paths.h"

namespace orch_test {

inline std::filesystem::path demo_cache() { return sdxl::test_paths::scratch_dir() / "sdxl_orch_test"; }

inline std::shared_ptr<sdxl::plugins::PluginRegistry> registry() {
  static std::shared_ptr<sdxl::plugins::PluginRegistry> reg = sdxl::test_support::built_plugins();
  return reg;
}

/// The demo model, loaded once per process.
inline sdxl::sdk::Result<std::shared_ptr<sdxl::pipeline::SdxlModel>> demo_model(const sdxl::pipeline::ModelSpec& spec) {
  static std::shared_ptr<sdxl::pipeline::SdxlModel> model;
  if (!model) {
    auto m = sdxl::pipeline::SdxlModel::load(spec, *registry());
    if (!m.ok()) return m.status();
    model = m.value();
  }
  return model;
}

/// The demo model itself (written to the test cache if needed), as the orchestrators get it.
inline std::shared_ptr<sdxl::pipeline::SdxlModel> shared_demo() {
  sdxl::pipeline::ModelSpec spec;
  auto dir = sdxl::models::demo::ensure_demo_model(demo_cache());
  REQUIRE(dir.ok());
  spec.path = dir.value();
  auto m = demo_model(spec);
  REQUIRE(m.ok());
  return m.value();
}

inline sdxl::server::OrchestratorOptions options() {
  sdxl::server::OrchestratorOptions o;
  o.registry = registry();
  o.demo_cache_dir = demo_cache();
  o.load_model = demo_model;
  o.max_batch = 1;
  return o;
}

/// A small, quick job on the demo model.
inline sdxl::server::JobSpec tiny_job(const std::string& prompt, std::int64_t seed = 1, std::int64_t steps = 2) {
  sdxl::server::JobSpec s;
  s.prompt = prompt;
  s.width = s.height = 64;
  s.size_set = true;
  s.steps = steps;
  s.steps_set = true;
  s.seed = seed;
  s.sampler = "euler";
  return s;
}

/// Waits (up to `seconds`) until the job reaches a terminal state; returns its snapshot.
inline sdxl::server::JobSnapshot wait_done(sdxl::server::Orchestrator& o, const std::string& id, double seconds = 30) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    auto s = o.snapshot(id);
    REQUIRE(s.has_value());
    if (sdxl::server::is_terminal(s->state) || std::chrono::steady_clock::now() > until) return *s;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace orch_test
