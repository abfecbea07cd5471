#pragma once
// Shared helpers of the ControlNet unit tests: the tiny models' paths, the controlnet case's
// tensors, and a scratch folder removed at the end of each test.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "io/safetensors.h"
#include "models/controlnet/controlnet_model.h"
#include "test_paths.h"

namespace cn_test {

namespace fs = std::filesystem;

inline const fs::path kModels = sdxl::test_paths::golden_models_dir();
inline const fs::path kFolder = kModels / "controlnet-tiny";
inline const fs::path kCldm = kModels / "controlnet-tiny-cldm.safetensors";
inline const fs::path kCase = kModels / "cases" / "controlnet.safetensors";

inline bool have_goldens() { return fs::exists(kCase) && fs::exists(kFolder) && fs::exists(kCldm); }

/// A fresh empty folder, removed when the object goes.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::random_device rd;
    path = sdxl::test_paths::scratch_dir() / ("sdxl_cn_test_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// The case's inputs as ControlNetInputs (scale 1).
inline sdxl::models::ControlNetInputs case_inputs(const sdxl::io::SafetensorsFile& f) {
  auto t = [&](const std::string& n) {
    auto r = f.tensor(n);
    REQUIRE(r.ok());
    return r.value();
  };
  sdxl::models::ControlNetInputs in;
  in.sample = t("sample");
  in.timestep = t("timestep");
  in.encoder_hidden_states = t("encoder_hidden_states");
  in.text_embeds = t("text_embeds");
  in.time_ids = t("time_ids");
  in.controlnet_cond = t("controlnet_cond");
  return in;
}

/// The tiny ControlNet (float32, CPU) and the controlnet case's inputs.
struct TinyControlNet {
  std::shared_ptr<sdxl::models::ControlNetModel> model;
  sdxl::models::ControlNetInputs inputs;
};

/// Loads them; without the golden folder, warns that the test is skipped and returns nothing.
inline std::optional<TinyControlNet> load_tiny_controlnet() {
  if (!have_goldens()) {
    WARN("golden models not found under " << kModels << ", skipping");
    return std::nullopt;
  }
  auto cn = sdxl::models::ControlNetModel::load(kFolder, {}, at::kFloat, at::kCPU);
  REQUIRE(cn.ok());
  auto f = sdxl::io::SafetensorsFile::open(kCase);
  REQUIRE(f.ok());
  return TinyControlNet{cn.value(), case_inputs(**f)};
}

}  // namespace cn_test
