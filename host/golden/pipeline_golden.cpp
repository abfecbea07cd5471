#include "golden/pipeline_golden.h"

#include <ATen/ATen.h>

#include "golden/compare.h"
#include "golden/manifest_tolerance.h"
#include "noise/cpu_torch_noise.h"
#include "pipeline/control_units.h"
#include "pipeline/generate.h"

namespace sdxl::golden {
namespace {

// Serves the recorded draws in diffusers' order (VAE posterior sample first), then falls back to
// a seeded generator for anything a sampler might draw.
class RecordedNoise : public sdk::NoiseSource {
 public:
  explicit RecordedNoise(std::vector<at::Tensor> queue) : queue_(std::move(queue)), fallback_(0) {}
  at::Tensor randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) override {
    if (next_ < queue_.size() && queue_[next_].sizes() == shape) return queue_[next_++].to(device, dtype);
    return fallback_.randn(shape, dtype, device);
  }

 private:
  std::vector<at::Tensor> queue_;
  std::size_t next_ = 0;
  noise::CpuTorchNoise fallback_;
};

std::vector<std::string> strings(const nlohmann::json& v) {
  if (v.is_string()) return {v.get<std::string>()};
  if (v.is_array()) return v.get<std::vector<std::string>>();
  return {};
}

sdk::Result<at::Tensor> tensor(const GoldenCase& c, const std::string& name) {
  if (!c.tensors || !c.tensors->contains(name)) return sdk::not_found(c.file.string() + ": no tensor '" + name + "'");
  return c.tensors->tensor(name);
}

// The ControlNet case's single unit: --controlnet (default controlnet-tiny/ beside the case
// folder); a single-file ControlNet takes its config.json from controlnet-tiny/ when present,
// as a single-file model takes its configs from --model-config.
sdk::Result<std::vector<pipeline::ControlUnit>> controlnet_units(const GoldenCase& c, const GoldenOptions& opts,
                                                                 const nlohmann::json& params,
                                                                 const pipeline::SdxlModel& model, std::int64_t width,
                                                                 std::int64_t height) {
  namespace fs = std::filesystem;
  const fs::path case_dir = c.source_dir.empty() ? c.file.parent_path() : c.source_dir;
  const fs::path tiny = case_dir.parent_path() / "controlnet-tiny";
  pipeline::ControlUnitRequest unit;
  unit.model = opts.controlnet.empty() ? tiny.string() : opts.controlnet;
  std::error_code ec;
  if (!fs::is_directory(unit.model, ec) && fs::is_regular_file(tiny / "config.json", ec)) unit.model_config = tiny.string();
  unit.type = "none";  // the case's picture is the control image itself
  unit.scale = params.value("cn_scale", 1.0);
  if (c.tensors && c.tensors->contains("control_image_u8")) {
    unit.image = tensor(c, "control_image_u8").value()[0];  // [H, W, 3]
  } else {
    auto cond = tensor(c, "controlnet_cond");  // [rows, 3, H, W] in [0, 1]
    if (!cond.ok()) return cond.status();
    unit.image = (cond.value()[0].to(at::kFloat) * 255).round().clamp(0, 255).to(at::kByte).permute({1, 2, 0}).contiguous();
  }
  return pipeline::resolve_control_units({unit}, *model.unet, *opts.registry, width, height);
}

}  // namespace

bool PipelineGoldenHandler::accepts(const GoldenCase& c) const {
  const auto kind = c.manifest.value("case", std::string());
  return kind == "txt2img" || kind == "img2img" || kind == "controlnet_txt2img";
}

std::set<std::string> PipelineGoldenHandler::allowed_manifest_keys(const GoldenCase&) const {
  return {"case",          "params.prompts", "params.negative", "params.height",
          "params.width",  "params.steps",   "params.guidance", "params.strength", "params.cn_scale"};
}

std::set<std::string> PipelineGoldenHandler::allowed_tensors(const GoldenCase& c) const {
  std::set<std::string> out = {"noise", "vae_sample_noise", "init_image"};
  // Where a picture is given as uint8 and float, the float one is used.
  if (!c.tensors || !c.tensors->contains("init_image")) out.insert("init_image_u8");
  // The control picture: the uint8 one goes through the same path as a user's PNG; the float
  // conditioning (picture / 255, repeated per row) only when the case lacks it.
  if (!c.tensors || c.tensors->contains("control_image_u8")) out.insert("control_image_u8");
  else out.insert("controlnet_cond");
  return out;
}

sdk::Result<TensorList> PipelineGoldenHandler::replay(const GoldenCase& c, const GoldenOptions& opts,
                                                      nlohmann::json*) const {
  if (opts.model.empty()) return sdk::invalid_argument("the " + c.manifest.value("case", std::string()) + " case needs --model");
  if (!opts.registry) return sdk::invalid_argument("the pipeline cases need the plugin registry");
  const auto& params = c.manifest.value("params", nlohmann::json::object());
  pipeline::ModelSpec spec;
  spec.path = opts.model;
  spec.model_config = opts.model_config;
  spec.clip_vocab = opts.clip_vocab;
  spec.device = opts.device;
  spec.dtype = opts.dtype;
  auto model = pipeline::SdxlModel::load(spec, *opts.registry);
  if (!model.ok()) return model.status();

  pipeline::GenerateRequest req;
  req.prompts.prompts = strings(params.value("prompts", nlohmann::json()));
  req.prompts.negatives = strings(params.value("negative", nlohmann::json()));
  req.prompts.mode = pipeline::PromptMode::plain;  // diffusers reads brackets as text
  req.steps = params.value("steps", 30);
  req.guidance = params.value("guidance", 5.0);
  std::vector<at::Tensor> draws;
  if (c.tensors && (c.tensors->contains("init_image") || c.tensors->contains("init_image_u8"))) {
    at::Tensor init;
    if (c.tensors->contains("init_image")) {
      init = tensor(c, "init_image").value().to(at::kFloat);
    } else {
      at::Tensor u8 = tensor(c, "init_image_u8").value();
      init = (u8.to(at::kFloat).permute({0, 3, 1, 2}) / 127.5 - 1.0).contiguous();
    }
    req.init_image = init;
    req.strength = params.value("strength", 0.8);
    req.height = init.size(2);
    req.width = init.size(3);
    if (c.tensors->contains("vae_sample_noise")) draws.push_back(tensor(c, "vae_sample_noise").value());
  } else {
    req.height = params.value("height", 1024);
    req.width = params.value("width", 1024);
  }
  auto noise = tensor(c, "noise");
  if (!noise.ok()) return noise.status();
  req.initial_noise = noise.value();
  if (c.manifest.value("case", std::string()) == "controlnet_txt2img") {
    auto units = controlnet_units(c, opts, params, *model.value(), req.width, req.height);
    if (!units.ok()) return units.status();
    req.controls = std::move(units).value();
  }
  RecordedNoise source(draws);

  TensorList out;
  pipeline::StepSink sink = [&](const std::string& name, const at::Tensor& t) { out.emplace_back(name, t.to(at::kFloat).cpu()); };
  pipeline::JobHooks hooks;
  hooks.noise = &source;
  hooks.sink = &sink;
  // The conditioning of the negative rows, as the case names them.
  auto result = pipeline::generate(*model.value(), *opts.registry, req, hooks);
  if (!result.ok()) return result.status();
  const double scaling = model.value()->vae->info().scaling_factor;
  out.emplace_back("vae_input", result.value().latents / scaling);
  at::Tensor image = result.value().images;
  out.emplace_back("image01", (image / 2 + 0.5).clamp(0, 1));
  out.emplace_back("image_u8", pipeline::to_uint8_images(image));
  return out;
}

std::set<std::string> PipelineGoldenHandler::required_outputs(const GoldenCase& full) const {
  std::set<std::string> required = {"prompt.prompt_embeds", "prompt.pooled", "latents_final", "image"};
  if (full.manifest.value("case", std::string()) == "controlnet_txt2img") {
    required.insert("step0.cn_down.0");
    required.insert("step0.cn_mid");
  }
  return required;
}

CompareReport PipelineGoldenHandler::compare(const GoldenCase& full, const TensorList& produced,
                                             const nlohmann::json&) const {
  CompareReport report;
  WorstTracker worst;
  std::set<std::string> seen;
  for (const auto& [name, got] : produced) {
    if (!full.tensors || !full.tensors->contains(name)) continue;  // something the case does not record
    auto want = full.tensors->tensor(name);
    if (!want.ok()) continue;
    const auto tol = manifest_tolerance(full.manifest, name, {5e-4, 1e-4, false});
    worst.add(name, compare_tensors(got, want.value(), tol.atol, tol.rtol));
    seen.insert(name);
  }
  std::string missing;
  for (const auto& r : required_outputs(full))
    if (!seen.count(r)) missing += (missing.empty() ? "" : ", ") + r;
  report.passed = !worst.any_failed && missing.empty();
  report.summary = !missing.empty() ? "missing outputs: " + missing
                                    : std::to_string(seen.size()) + " tensors; worst " + describe(worst.name, worst.dev);
  return report;
}

}  // namespace sdxl::golden
