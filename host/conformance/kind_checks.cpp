#include "conformance/kind_checks.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "sdxl/sdk/vae_sizing.h"

namespace sdxl::conformance {
namespace {

// Noise for the checks: torch's CPU generator with a fixed seed.
class SeededNoise : public sdk::NoiseSource {
 public:
  explicit SeededNoise(std::uint64_t seed) : gen_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}
  at::Tensor randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) override {
    return at::randn(shape, gen_, at::TensorOptions().dtype(at::kFloat)).to(device, dtype);
  }

 private:
  at::Generator gen_;
};

class NoModules : public sdk::ModuleResolver {
 public:
  std::optional<sdk::ModuleInfo> resolve(std::string_view) const override { return std::nullopt; }
};

bool all_finite(const at::Tensor& t) { return t.defined() && at::isfinite(t.to(at::kFloat)).all().item<bool>(); }

// One txt2img loop with a smooth stand-in model; returns the final sample or an error text.
std::string run_loop(sdk::Scheduler& s, std::uint64_t seed, at::Tensor& final_sample) {
  SeededNoise noise(seed);
  auto st = s.set_timesteps(10);
  if (!st.ok()) return "set_timesteps(10): " + st.message();
  at::Tensor ts = s.timesteps();
  if (!ts.defined() || ts.dim() != 1 || ts.size(0) < 1) return "timesteps() is not a non-empty 1-D tensor";
  const double sigma0 = s.init_noise_sigma();
  if (!(sigma0 > 0) || !std::isfinite(sigma0)) return "init_noise_sigma() is not finite and positive";
  at::Tensor x = noise.randn({1, 4, 8, 8}, at::kFloat, at::kCPU) * sigma0;
  for (std::int64_t call = 0; call < ts.size(0); ++call) {
    auto in = s.scale_model_input(x, call);
    if (!in.ok()) return "scale_model_input call " + std::to_string(call) + ": " + in.status().message();
    at::Tensor out = 0.9 * at::tanh(in.value()) + 0.1;
    auto step = s.step(out, call, x, noise);
    if (!step.ok()) return "step call " + std::to_string(call) + ": " + step.status().message();
    x = step.value().prev_sample;
    if (!x.defined() || x.sizes() != at::IntArrayRef({1, 4, 8, 8})) return "step changed the sample's shape";
    if (!all_finite(x)) return "non-finite sample after call " + std::to_string(call);
  }
  final_sample = x;
  return {};
}

}  // namespace

void check_aliases_resolve(Checker& c, const plugins::PluginRegistry& r, const sdk::FeatureInfo& f,
                           const std::string& label) {
  for (const auto& a : f.aliases) {
    const auto* e = r.find(f.kind, a);
    c.expect(label + ": alias \"" + a + "\" resolves to it", e && e->info.name == f.name,
             e ? "resolves to " + e->info.name : "not found");
  }
}

void check_scheduler(Checker& c, const plugins::PluginRegistry& r, const sdk::FeatureInfo& f, const std::string& label) {
  bool created = true;
  for (int i = 0; i < 3; ++i) created = created && r.create_scheduler(f.name).ok();
  if (!c.expect(label + ": create/destroy three times", created, "factory failed")) return;
  auto s = std::move(r.create_scheduler(f.name)).value();
  c.expect(label + ": set_timesteps(0) is refused, not a crash", !s->set_timesteps(0).ok(), "accepted 0 steps");
  at::Tensor a, b;
  std::string err = run_loop(*s, 7, a);
  if (!c.expect(label + ": 10-step loop on [1,4,8,8] stays finite", err.empty(), err)) return;
  auto s2 = std::move(r.create_scheduler(f.name)).value();
  err = run_loop(*s2, 7, b);
  c.expect(label + ": same seed gives the same result", err.empty() && at::equal(a, b), err.empty() ? "results differ" : err);
  // img2img path: truncation and add_noise.
  bool ok = s2->set_timesteps(10).ok();
  const auto full = s2->timesteps().size(0);
  ok = ok && s2->skip_calls(full / 2).ok() && s2->timesteps().size(0) == full - full / 2;
  auto noisy = s2->add_noise(at::zeros({1, 4, 8, 8}), at::ones({1, 4, 8, 8}), 0);
  ok = ok && noisy.ok() && all_finite(noisy.value());
  c.expect(label + ": skip_calls + add_noise (img2img start)", ok, "truncation or add_noise failed");
}

void check_lora_format(Checker& c, const plugins::PluginRegistry& r, const sdk::FeatureInfo& f, const std::string& label) {
  bool created = true;
  for (int i = 0; i < 3; ++i) created = created && r.create_lora_format(f.name).ok();
  if (!c.expect(label + ": create/destroy three times", created, "factory failed")) return;
  auto fmt = std::move(r.create_lora_format(f.name)).value();
  std::map<std::string, at::Tensor> empty, junk = {{"model.some.weight", at::ones({2, 2})}};
  std::map<std::string, std::string> meta;
  sdk::LoraFile e{"empty.safetensors", &empty, &meta}, j{"junk.safetensors", &junk, &meta};
  c.expect(label + ": does not claim an empty file", fmt->detect(e).confidence < 0.5, "claimed it");
  c.expect(label + ": does not claim a non-LoRA file", fmt->detect(j).confidence < 0.5, "claimed it");
  NoModules none;
  auto parsed = fmt->parse(j, none);
  c.expect(label + ": parsing a foreign file is an error or yields nothing",
           !parsed.ok() || parsed.value().patches.empty(), "produced patches");
}

void check_controlnet_type(Checker& c, const plugins::PluginRegistry& r, const sdk::FeatureInfo& f,
                           const std::string& label) {
  bool created = true;
  for (int i = 0; i < 3; ++i) created = created && r.create_controlnet_type(f.name).ok();
  if (!c.expect(label + ": create/destroy three times", created, "factory failed")) return;
  auto t = std::move(r.create_controlnet_type(f.name)).value();
  // A white rectangle on black: every edge-like preprocessor has something to find.
  at::Tensor img = at::zeros({48, 64, 3}, at::kByte);
  img.slice(0, 12, 36).slice(1, 16, 48).fill_(255);
  auto out = t->preprocess(img, nullptr);
  const bool shaped = out.ok() && out.value().scalar_type() == at::kByte && out.value().dim() == 3 &&
                      out.value().size(0) == 48 && out.value().size(1) == 64 && out.value().size(2) == 3;
  // Learned types without a configured model may refuse, but must say why.
  c.expect(label + ": preprocess gives uint8 [H,W,3] or a clear refusal",
           shaped || (!out.ok() && !out.status().message().empty()),
           out.ok() ? "wrong output shape or dtype" : "empty error message");
  c.expect(label + ": float input is refused", !t->preprocess(img.to(at::kFloat), nullptr).ok(), "accepted");
  c.expect(label + ": 2-D input is refused", !t->preprocess(at::zeros({8, 8}, at::kByte), nullptr).ok(), "accepted");
}

void check_vae_variant(Checker& c, const plugins::PluginRegistry& r, const sdk::FeatureInfo& f, const std::string& label) {
  bool created = true;
  for (int i = 0; i < 3; ++i) created = created && r.create_vae_variant(f.name).ok();
  if (!c.expect(label + ": create/destroy three times", created, "factory failed")) return;
  auto v = std::move(r.create_vae_variant(f.name)).value();
  const auto info = v->info();
  c.expect(label + ": info() is sane", info.latent_channels > 0 && info.scaling_factor > 0 && info.downscale > 0,
           "non-positive latent channels, scaling factor or downscale");
  c.expect(label + ": decode before load is refused", !v->decode(at::zeros({1, 4, 8, 8}), nullptr).ok(), "accepted");
  std::map<std::string, at::Tensor> none;
  c.expect(label + ": loading an empty weight set is refused", !v->load(sdk::WeightSet{"empty", &none, ""}).ok(),
           "accepted");
  c.expect(label + ": memory estimate is positive", v->estimate_decode_bytes({1, 4, 8, 8}) > 0, "estimate is 0");
  // The optional sizing extension (sdk/vae_sizing.h) refuses what load() refuses.
  if (auto* sizing = static_cast<sdk::VaeSizing*>(v->extension(SDXL_VAE_SIZING_EXTENSION)))
    c.expect(label + ": sizing for an empty weight set is refused", !sizing->size_for(sdk::WeightSet{"empty", &none, ""}).ok(),
             "accepted");
}

}  // namespace sdxl::conformance
