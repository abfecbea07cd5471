#pragma once
// Shared helpers of the VAE unit tests: golden paths, weight loading, deterministic noise.

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "io/safetensors.h"
#include "sdxl/sdk/host_services.h"
#include "sdxl/sdk/vae_variant.h"
#include "test_paths.h"

namespace vae_test {

namespace fs = std::filesystem;

inline fs::path models_dir() { return sdxl::test_paths::golden_models_dir(); }
inline bool have_goldens() { return fs::exists(models_dir() / "cases" / "vae.safetensors"); }

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A folder's diffusion_pytorch_model.safetensors + config.json as a WeightSet (keeps the map alive).
struct LoadedWeights {
  std::shared_ptr<sdxl::io::SafetensorsFile> file;
  std::map<std::string, at::Tensor> tensors;
  sdxl::sdk::WeightSet set() const { return sdxl::sdk::WeightSet{source, &tensors, config}; }
  std::string source;
  std::string config;
};

inline LoadedWeights load_folder(const fs::path& folder) {
  LoadedWeights w;
  auto f = sdxl::io::SafetensorsFile::open(folder / "diffusion_pytorch_model.safetensors");
  if (!f.ok()) throw std::runtime_error(f.status().message());
  w.file = f.value();
  auto all = w.file->all_tensors();
  if (!all.ok()) throw std::runtime_error(all.status().message());
  w.tensors = std::move(all).value();
  w.source = folder.string();
  if (fs::exists(folder / "config.json")) w.config = read_text(folder / "config.json");
  return w;
}

inline at::Tensor case_tensor(const sdxl::io::SafetensorsFile& f, const std::string& name) {
  auto t = f.tensor(name);
  if (!t.ok()) throw std::runtime_error(t.status().message());
  return t.value().clone();
}

/// The same tensor names and shapes with fresh, well-conditioned values (unit-variance
/// activations: conv/linear weights ~ N(0, 1/fan_in), norm weights ~ 1, small biases), drawn from
/// a private generator. The reference tiny VAE deliberately makes its first GroupNorms sensitive
/// to eps (README 2.1), which also makes them hypersensitive to per-tile statistics; tiling
/// behaviour is judged on ordinary weights instead.
inline LoadedWeights well_conditioned_like(const LoadedWeights& w, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  LoadedWeights out;
  out.source = w.source + " (re-initialised)";
  out.config = w.config;
  for (const auto& [name, t] : w.tensors) {
    at::Tensor n = at::normal(0.0, 1.0, t.sizes(), gen, at::TensorOptions().dtype(at::kFloat));
    const bool is_weight = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
    if (t.dim() == 1) {
      out.tensors[name] = is_weight ? 1 + 0.05 * n : 0.02 * n;
    } else {
      const double fan_in = static_cast<double>(t.numel() / t.size(0));
      out.tensors[name] = n / std::sqrt(fan_in);
    }
  }
  return out;
}

/// Returns the same value everywhere (0 gives the posterior mean, 1 gives mean + std).
class ConstantNoise : public sdxl::sdk::NoiseSource {
 public:
  explicit ConstantNoise(double v) : value_(v) {}
  at::Tensor randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) override {
    return at::full(shape, value_, at::TensorOptions().dtype(dtype).device(device));
  }

 private:
  double value_;
};

/// max |a - b| - (atol + rtol |b|): <= 0 means within tolerance (numpy allclose convention).
inline double excess(const at::Tensor& a, const at::Tensor& b, double atol, double rtol) {
  return ((a.to(at::kDouble) - b.to(at::kDouble)).abs() - (atol + rtol * b.to(at::kDouble).abs())).max().item<double>();
}
inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace vae_test
