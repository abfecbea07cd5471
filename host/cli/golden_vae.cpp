// Golden handlers for the VAE cases, replayed through the vae_variant plugins of the registry:
//   cases/vae.safetensors   (`kl`):    PREFIX.latents -> PREFIX.{image, image_u8};
//                                      PREFIX.image   -> PREFIX.{mean, std, logvar, scaled_mean}
//   cases/taesd.safetensors (`taesd`): PREFIX.latents -> PREFIX.image; PREFIX.image -> PREFIX.latents
// Sub-cases are discovered from the manifest's input tensors (an unseen set may have other
// prefixes and shapes). Only inputs are read; where a picture is given as uint8 and as float, the
// float one is used. KL weights come from --model (diffusers folder, or single file with
// --model-config) through the checkpoint loader; TAESD weights from --taesd (default
// taesdxl-random/ beside the case folder).
//
// The posterior statistics go through the SDK interface only: encode(noise = null) is the scaled
// mean, and a noise source that returns 1 everywhere gives (mean + std) scaled, so
// std = (that - mean) / scaling_factor and logvar = 2 log std.
#include <ATen/ATen.h>

#include <fstream>
#include <sstream>

#include "golden/case_files.h"
#include "golden/compare.h"
#include "golden/golden_case.h"
#include "golden/manifest_tolerance.h"
#include "models/loader/checkpoint.h"
#include "plugins/registry.h"

namespace sdxl::golden {
namespace {

namespace fs = std::filesystem;

const nlohmann::json& tensor_table(const nlohmann::json& manifest) {
  static const nlohmann::json empty = nlohmann::json::object();
  auto it = manifest.find("tensors");
  return it != manifest.end() && it->is_object() ? *it : empty;
}

std::string role_of(const nlohmann::json& manifest, const std::string& name) {
  const auto& t = tensor_table(manifest);
  auto it = t.find(name);
  if (it == t.end() || !it->is_object()) return {};
  return it->value("role", std::string());
}

// Prefixes P (empty or ending in '.') of input tensors named P<suffix>.
std::vector<std::string> prefixes_with_input(const nlohmann::json& manifest, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& [name, info] : tensor_table(manifest).items()) {
    if (!info.is_object() || info.value("role", std::string()) != "input") continue;
    if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    std::string prefix = name.substr(0, name.size() - suffix.size());
    if (prefix.empty() || prefix.back() == '.') out.push_back(std::move(prefix));
  }
  return out;
}


sdk::Result<at::Tensor> input(const GoldenCase& c, const std::string& name) {
  if (!c.tensors) return sdk::invalid_argument(c.file.string() + ": the case has no tensors");
  auto t = c.tensors->tensor(name);
  if (!t.ok()) return t.status();
  return t.value().to(at::kFloat).clone();
}

// [N, 3, H, W] in [-1, 1] -> uint8 [N, H, W, 3]: clamp(x / 2 + 0.5, 0, 1) * 255, rounded half
// to even (at::round, like numpy), as in README 4.5.
at::Tensor to_uint8_hwc(const at::Tensor& image) {
  return at::round((image / 2 + 0.5).clamp(0, 1) * 255).to(at::kByte).permute({0, 2, 3, 1}).contiguous();
}

// Compares every produced tensor with the full case and insists that every output of the full
// case was produced.
CompareReport compare_all(const GoldenCase& full, const TensorList& produced) {
  WorstTracker worst;
  std::set<std::string> seen;
  for (const auto& [name, got] : produced) {
    seen.insert(name);
    if (!full.tensors || !full.tensors->contains(name)) continue;
    auto want = full.tensors->tensor(name);
    if (!want.ok()) return {false, want.status().message()};
    // README section 6's VAE / TAESD defaults where the manifest suggests nothing.
    const auto tol = manifest_tolerance(full.manifest, name, {5e-4, 1e-4, false});
    worst.add(name, compare_tensors(got, want.value(), tol.atol, tol.rtol));
  }
  for (const auto& [name, info] : tensor_table(full.manifest).items()) {
    if (info.is_object() && info.value("role", std::string()) == "output" && !seen.count(name)) {
      return {false, "output '" + name + "' was not produced"};
    }
  }
  if (seen.empty()) return {false, "nothing was produced"};
  return {!worst.any_failed, describe(worst.name, worst.dev)};
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

sdk::Result<std::unique_ptr<sdk::VaeVariant>> create_untiled(const GoldenOptions& opts, const std::string& feature) {
  if (!opts.registry) return sdk::invalid_argument("the " + feature + " golden case needs the plugin registry");
  // The references are untiled and unsliced, whatever the user's configuration says. Outside
  // float32 the check is of the 16-bit path itself, so no float32 upcast either.
  sdk::Options overrides;
  if (feature == "kl") {
    overrides.set("tiling", false);
    if (opts.dtype != c10::kFloat) overrides.set("force_upcast", std::string("off"));
  }
  const plugins::Placement placement{opts.device, opts.dtype};
  return opts.registry->create_vae_variant(feature, feature == "kl" ? &overrides : nullptr, &placement);
}

// Shared replay: decode every PREFIX.latents; encode every float PREFIX.image.
sdk::Result<TensorList> replay_vae(const GoldenCase& c, sdk::VaeVariant& vae, bool kl) {
  TensorList out;
  for (const auto& p : prefixes_with_input(c.manifest, "latents")) {
    auto latents = input(c, p + "latents");
    if (!latents.ok()) return latents.status();
    auto image = vae.decode(latents.value(), nullptr);
    if (!image.ok()) return sdk::Status(image.status().code(), p + "latents: " + image.status().message());
    out.emplace_back(p + "image", image.value());
    if (kl) out.emplace_back(p + "image_u8", to_uint8_hwc(image.value()));
  }
  for (const auto& p : prefixes_with_input(c.manifest, "image")) {
    auto image = input(c, p + "image");
    if (!image.ok()) return image.status();
    auto mode = vae.encode(image.value(), nullptr, nullptr);
    if (!mode.ok()) return sdk::Status(mode.status().code(), p + "image: " + mode.status().message());
    if (!kl) {
      out.emplace_back(p + "latents", mode.value());
      continue;
    }
    struct Ones : sdk::NoiseSource {
      at::Tensor randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) override {
        return at::ones(shape, at::TensorOptions().dtype(dtype).device(device));
      }
    } ones;
    auto shifted = vae.encode(image.value(), &ones, nullptr);
    if (!shifted.ok()) return shifted.status();
    const auto info = vae.info();
    at::Tensor mean = mode.value() / info.scaling_factor + info.shift_factor;
    at::Tensor std_dev = (shifted.value() - mode.value()) / info.scaling_factor;
    out.emplace_back(p + "scaled_mean", mode.value());
    out.emplace_back(p + "mean", mean);
    out.emplace_back(p + "std", std_dev);
    out.emplace_back(p + "logvar", at::log(std_dev) * 2);
  }
  return out;
}

class VaeKlGoldenHandler : public GoldenHandler {
 public:
  std::string name() const override { return "vae"; }
  bool accepts(const GoldenCase& c) const override {
    if (!c.tensors) return false;
    if (c.manifest.is_object() && c.manifest.contains("case")) return c.manifest.value("case", std::string()) == "vae";
    return c.file.stem() == "vae";
  }
  std::set<std::string> allowed_manifest_keys(const GoldenCase&) const override { return {"case", "params", "tensors"}; }
  std::set<std::string> allowed_tensors(const GoldenCase& c) const override { return manifest_tensors_with_role(c.manifest, "input"); }
  bool runs_in_dtype() const override { return true; }

  sdk::Result<TensorList> replay(const GoldenCase& c, const GoldenOptions& opts, nlohmann::json*) const override {
    return sdk::guard("vae golden replay", [&]() -> sdk::Result<TensorList> {
      if (opts.model.empty()) return sdk::invalid_argument("the vae case needs --model (diffusers folder or single file)");
      models::loader::LoadOptions lo;
      lo.model_config = opts.model_config;
      lo.components = {"vae"};
      auto ck = models::loader::load_checkpoint(opts.model, lo);
      if (!ck.ok()) return ck.status();
      auto weights = ck->component("vae");
      if (!weights.ok()) return weights.status();
      auto vae = create_untiled(opts, "kl");
      if (!vae.ok()) return vae.status();
      const auto* w = weights.value();
      sdk::WeightSet set{w->source, &w->tensors, w->config.is_null() ? std::string() : w->config.dump()};
      if (auto st = vae.value()->load(set); !st.ok()) return st;
      return replay_vae(c, *vae.value(), true);
    });
  }
  CompareReport compare(const GoldenCase& full, const TensorList& produced, const nlohmann::json&) const override {
    return compare_all(full, produced);
  }
};

class TaesdGoldenHandler : public GoldenHandler {
 public:
  std::string name() const override { return "taesd"; }
  bool accepts(const GoldenCase& c) const override {
    if (!c.tensors) return false;
    if (c.manifest.is_object() && c.manifest.contains("case")) return c.manifest.value("case", std::string()) == "taesd";
    return c.file.stem() == "taesd";
  }
  std::set<std::string> allowed_manifest_keys(const GoldenCase&) const override { return {"case", "params", "tensors"}; }
  std::set<std::string> allowed_tensors(const GoldenCase& c) const override { return manifest_tensors_with_role(c.manifest, "input"); }
  bool runs_in_dtype() const override { return true; }

  sdk::Result<TensorList> replay(const GoldenCase& c, const GoldenOptions& opts, nlohmann::json*) const override {
    return sdk::guard("taesd golden replay", [&]() -> sdk::Result<TensorList> {
      const fs::path case_dir = c.source_dir.empty() ? c.file.parent_path() : c.source_dir;
      const fs::path folder = opts.taesd.empty() ? case_dir.parent_path() / "taesdxl-random" : fs::path(opts.taesd);
      auto file = io::SafetensorsFile::open(folder / "diffusion_pytorch_model.safetensors");
      if (!file.ok()) return file.status();
      auto tensors = file.value()->all_tensors();
      if (!tensors.ok()) return tensors.status();
      const fs::path config = folder / "config.json";
      auto vae = create_untiled(opts, "taesd");
      if (!vae.ok()) return vae.status();
      sdk::WeightSet set{folder.string(), &tensors.value(), fs::exists(config) ? read_text(config) : std::string()};
      if (auto st = vae.value()->load(set); !st.ok()) return st;
      return replay_vae(c, *vae.value(), false);
    });
  }
  CompareReport compare(const GoldenCase& full, const TensorList& produced, const nlohmann::json&) const override {
    return compare_all(full, produced);
  }
};

}  // namespace
}  // namespace sdxl::golden

SDXL_REGISTER_GOLDEN_HANDLER(sdxl::golden::VaeKlGoldenHandler)
SDXL_REGISTER_GOLDEN_HANDLER(sdxl::golden::TaesdGoldenHandler)
