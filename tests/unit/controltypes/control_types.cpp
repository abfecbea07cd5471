#include "control_types.h"

#include <ATen/ATen.h>  // before Catch: glog (via torch) also defines CHECK
#include <catch2/catch.hpp>

#include <atomic>
#include <unistd.h>

#include "plugins/registry.h"
#include "test_paths.h"

namespace cntest {

namespace fs = std::filesystem;

namespace {

// One registry per test process, holding every ControlNet type library that was built.
sdxl::plugins::PluginRegistry& registry() {
  static sdxl::plugins::PluginRegistry* reg = [] {
    auto* r = new sdxl::plugins::PluginRegistry();  // never destroyed: plugin libraries stay loaded
    for (const char* name : {"canny", "scribble", "lineart", "mlsd", "depth", "normal", "pose", "segmentation"}) {
      const fs::path lib = sdxl::test_paths::plugin_dir() / ("libsdxl_controlnet_" + std::string(name) + ".so");
      if (!r->load_library(lib))
        for (const auto& rej : r->rejected()) WARN("plugin " << rej.library << " rejected: " << rej.reason);
    }
    return r;
  }();
  return *reg;
}

}  // namespace

sdxl::sdk::Result<std::unique_ptr<sdxl::sdk::ControlNetType>> make_type(
    const std::string& name, const std::map<std::string, sdxl::sdk::OptionValue>& options) {
  sdxl::sdk::Options overrides;
  for (const auto& [k, v] : options) overrides.set(k, v);
  return registry().create_controlnet_type(name, &overrides);
}

std::unique_ptr<sdxl::sdk::ControlNetType> require_type(const std::string& name,
                                                        const std::map<std::string, sdxl::sdk::OptionValue>& options) {
  auto t = make_type(name, options);
  INFO("creating controlnet type " << name << ": " << t.status().message());
  REQUIRE(t.ok());
  return std::move(t).value();
}

at::Tensor require_control(sdxl::sdk::ControlNetType& type, const at::Tensor& image) {
  auto out = type.preprocess(image, nullptr);
  INFO("preprocess: " << out.status().message());
  REQUIRE(out.ok());
  const at::Tensor& t = out.value();
  REQUIRE(t.scalar_type() == at::kByte);
  REQUIRE(t.dim() == 3);
  REQUIRE(t.size(0) == image.size(0));
  REQUIRE(t.size(1) == image.size(1));
  REQUIRE(t.size(2) == 3);
  return t.contiguous();
}

fs::path scratch_dir() {
  static std::atomic<int> counter{0};
  static const fs::path root = [] {
    fs::path p = sdxl::test_paths::scratch_dir() / ("sdxl_controltypes_" + std::to_string(::getpid()));
    fs::create_directories(p);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(sdxl::test_paths::scratch_dir() / ("sdxl_controltypes_" + std::to_string(::getpid())), ec);
    });
    return p;
  }();
  fs::path dir = root / std::to_string(counter++);
  fs::create_directories(dir);
  return dir;
}

at::Tensor black(int64_t h, int64_t w) { return at::zeros({h, w, 3}, at::kByte); }

std::string rgb_at(const at::Tensor& img, int64_t y, int64_t x) {
  auto p = img[y][x];
  return std::to_string(p[0].item<int>()) + "," + std::to_string(p[1].item<int>()) + "," + std::to_string(p[2].item<int>());
}

}  // namespace cntest
