#pragma once
// Shared helpers of the LoRA unit tests: the golden folder, the format objects built directly
// from the plugin sources (tests/lora.cmake compiles them in, so the tests need no plugin
// loading), and the tiny base model as a WeightMap.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "diffusers_format.h"
#include "kohya_format.h"
#include "lora/lora_library.h"
#include "lora/merge_engine.h"
#include "lora/model_weights.h"
#include "test_paths.h"

namespace lora_test {

namespace fs = std::filesystem;

inline fs::path lora_golden_dir() { return sdxl::test_paths::golden_dir() / "lora"; }
inline bool have_goldens() { return fs::exists(lora_golden_dir() / "manifest.json"); }

inline nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

inline std::vector<sdxl::lora::NamedFormat> all_formats(sdxl::lora::CommonSettings s = {}) {
  using namespace sdxl::lora;
  std::vector<NamedFormat> f;
  f.push_back({"kohya_lora", std::make_unique<KohyaFormat>(KohyaClaim::low_rank, s)});
  f.push_back({"lycoris_loha", std::make_unique<KohyaFormat>(KohyaClaim::hadamard, s)});
  f.push_back({"lycoris_lokr", std::make_unique<KohyaFormat>(KohyaClaim::kronecker, s)});
  f.push_back({"lycoris_full", std::make_unique<KohyaFormat>(KohyaClaim::full, s)});
  f.push_back({"dora", std::make_unique<KohyaFormat>(KohyaClaim::dora, s)});
  f.push_back({"peft", std::make_unique<DiffusersFormat>(DiffusersEra::peft, s)});
  f.push_back({"diffusers_legacy", std::make_unique<DiffusersFormat>(DiffusersEra::legacy, s)});
  return f;
}

/// The tiny base model (unet + both text encoders), converted to `dtype`.
inline sdxl::lora::WeightMap tiny_model(c10::ScalarType dtype) {
  sdxl::lora::WeightMap w;
  for (const char* c : {"unet", "text_encoder", "text_encoder_2"}) {
    auto st = sdxl::lora::add_component_file(lora_golden_dir() / "base" / (std::string(c) + ".safetensors"), c, dtype, &w);
    if (!st.ok()) throw std::runtime_error(st.message());
  }
  return w;
}

}  // namespace lora_test
