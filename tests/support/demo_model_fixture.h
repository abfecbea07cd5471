#pragma once
// Test support shared by the unit-test areas: the plugins this build made, the built-in demo model
// loaded with them, and a short fixed-noise generation. tests/CMakeLists.txt puts tests/support
// on every area's include path. Set-up failures stop the test through Catch2's REQUIRE.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "models/demo/demo_model.h"
#include "noise/cpu_torch_noise.h"
#include "pipeline/generate.h"
#include "pipeline/sdxl_model.h"
#include "plugins/registry.h"
#include "test_paths.h"

namespace sdxl::test_support {

/// A registry holding the plugins of this build (test_paths::plugin_dir()).
inline std::unique_ptr<plugins::PluginRegistry> built_plugins() {
  auto registry = std::make_unique<plugins::PluginRegistry>();
  plugins::RegistrySettings settings;
  settings.search_paths = {sdxl::test_paths::plugin_dir()};
  registry->load(settings);
  return registry;
}

/// The demo model's folder, written once under the scratch folder's `folder`.
inline std::filesystem::path demo_model_dir(const std::string& folder) {
  auto dir = models::demo::ensure_demo_model(sdxl::test_paths::scratch_dir() / folder);
  REQUIRE(dir.ok());
  return dir.value();
}

/// The model at `path` (a diffusers folder or single file) loaded with `registry`; `spec`
/// (optional) gives the device, dtype and VAE, and receives the path.
inline std::shared_ptr<pipeline::SdxlModel> load_model(const std::filesystem::path& path,
                                                      const plugins::PluginRegistry& registry,
                                                      pipeline::ModelSpec* spec = nullptr) {
  pipeline::ModelSpec defaults;
  pipeline::ModelSpec& s = spec ? *spec : defaults;
  s.path = path;
  auto model = pipeline::SdxlModel::load(s, registry);
  INFO(model.status().message());
  REQUIRE(model.ok());
  return model.value();
}

/// The demo model loaded with `registry`, a fresh copy per call. `spec` (optional) gives the
/// device, dtype and VAE, and receives the model's path for later reloads.
inline std::shared_ptr<pipeline::SdxlModel> load_demo_model(const std::string& folder,
                                                           const plugins::PluginRegistry& registry,
                                                           pipeline::ModelSpec* spec = nullptr) {
  return load_model(demo_model_dir(folder), registry, spec);
}

/// The plugins and the demo model together (the model goes before the plugins that made its VAE).
struct DemoModel {
  std::unique_ptr<plugins::PluginRegistry> registry = built_plugins();
  std::shared_ptr<pipeline::SdxlModel> model;
  explicit DemoModel(const std::string& folder) : model(load_demo_model(folder, *registry)) {}
};

/// "a red boat" at 64×64, 2 steps, noise seed 21: the final latents.
inline at::Tensor generate_latents(pipeline::SdxlModel& model, const plugins::PluginRegistry& registry) {
  pipeline::GenerateRequest req;
  req.prompts.prompts = {"a red boat"};
  req.width = req.height = 64;
  req.steps = 2;
  noise::CpuTorchNoise noise(21);
  pipeline::JobHooks hooks;
  hooks.noise = &noise;
  auto r = pipeline::generate(model, registry, req, hooks);
  INFO(r.status().message());
  REQUIRE(r.ok());
  return r.value().latents;
}

}  // namespace sdxl::test_support
