// Model and LoRA names: what clients may ask for, resolved only inside the configured places.
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>

#include "image/png.h"
#include "models/demo/demo_model.h"
#include "pipeline/generate.h"
#include "prompt/emphasis.h"
#include "server/job_controlnets.h"
#include "server/orchestrator_impl.h"

namespace sdxl::server {
namespace fs = std::filesystem;
namespace {

std::string model_name_of(const fs::path& p) {
  return p.extension() == ".safetensors" ? p.stem().string() : p.filename().string();
}

bool is_model_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p / "model_index.json", ec) || fs::is_directory(p / "unet", ec);
}

std::string weight_text(double w) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", w);
  return buf;
}

// uint8 [H, W, C] → float [1, 3, H, W] in [-1, 1] (grey and RGBA pictures to RGB).
at::Tensor picture_tensor(const at::Tensor& px) {
  at::Tensor rgb = px.size(2) == 1 ? px.expand({px.size(0), px.size(1), 3}) : px;
  return pipeline::from_uint8_image(rgb.contiguous());
}

}  // namespace

void Orchestrator::Impl::build_catalogue() {
  const auto& c = opt.config;
  auto add = [&](ModelEntry e) {
    for (const auto& m : catalogue)
      if (m.name == e.name) return;  // the first of equal names wins
    catalogue.push_back(std::move(e));
  };
  if (!c.model_path.empty()) add({model_name_of(c.model_path), config::config_path(c, c.model_path), false});
  for (const auto& folder : opt.model_folders) {
    std::error_code ec;
    std::vector<fs::path> found;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path p = it->path();
      if ((p.extension() == ".safetensors" && fs::is_regular_file(p, ec)) || is_model_dir(p)) found.push_back(p);
    }
    std::sort(found.begin(), found.end());
    for (const auto& p : found) add({model_name_of(p), p, false});
  }
  if (opt.demo_model) add({"demo", {}, false});
  if (!catalogue.empty()) default_model = catalogue.front().name;
  lora_folders = config::config_paths(c, c.lora_folders);
  controlnet_folders = config::config_paths(c, c.controlnet_folders);
}

const ModelEntry* Orchestrator::Impl::find_model(const std::string& name) const {
  for (const auto& m : catalogue)
    if (m.name == name) return &m;
  return nullptr;
}

std::vector<std::string> Orchestrator::loras() const {
  std::vector<std::string> names;
  for (const auto& folder : impl_->lora_folders) {
    std::error_code ec;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".safetensors" && fs::is_regular_file(it->path(), ec))
        names.push_back(it->path().stem().string());
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<std::string> Orchestrator::controlnets() const { return controlnet_names(impl_->controlnet_folders); }

sdk::Result<pipeline::ModelSpec> Orchestrator::Impl::model_spec(const ModelEntry& entry) const {
  pipeline::ModelSpec spec;
  const auto& c = opt.config;
  if (entry.name == "demo" && entry.path.empty()) {
    auto dir = models::demo::ensure_demo_model(opt.demo_cache_dir.empty() ? models::demo::default_cache_dir()
                                                                          : opt.demo_cache_dir);
    if (!dir.ok()) return dir.status();
    spec.path = dir.value();
  } else {
    spec.path = entry.path;
    if (!c.model_config.empty()) spec.model_config = config::config_path(c, c.model_config);
    if (!c.clip_vocab.empty()) spec.clip_vocab = config::config_path(c, c.clip_vocab);
  }
  if (!c.vae_path.empty()) spec.vae_path = config::config_path(c, c.vae_path);
  // Device and dtype as `sdxl generate` picks them.
  if (auto st = pipeline::resolve_device_and_dtype(c.device, c.dtype, "[model] device", "[model] dtype", spec); !st.ok()) return st;
  return spec;
}

sdk::Status Orchestrator::Impl::resolve_job(Job& job) const {
  JobSpec& s = job.spec;
  if (auto st = validate_job(s, opt.limits); !st.ok()) return st;
  // Model: a name from the catalogue only (never a path).
  if (!s.model.empty()) job.model = s.model;
  if (job.model.empty()) return sdk::not_found("model: this server offers no model");
  if (!find_model(job.model)) {
    std::string names;
    for (const auto& m : catalogue) names += (names.empty() ? "" : ", ") + m.name;
    return sdk::not_found("model: '" + job.model + "' is not offered by this server (available: " + names + ")");
  }
  if (job.model == "demo") {  // small and short unless asked otherwise, as `sdxl generate`
    if (!s.size_set) s.width = s.height = 256;
    if (!s.steps_set) s.steps = 12;
  }
  if (!s.sampler.empty() && s.sampler != "auto" && !opt.registry->find(sdk::FeatureKind::scheduler, s.sampler)) {
    std::string names;
    for (const auto& n : opt.registry->names(sdk::FeatureKind::scheduler)) names += (names.empty() ? "" : ", ") + n;
    return sdk::invalid_argument("sampler: unknown '" + s.sampler + "' (available: " + names + ")");
  }

  // LoRAs: the request's list, then <lora:name:w> tags in the prompt; names only, inside folders.
  job.loras.clear();
  for (std::size_t i = 0; i < s.loras.size(); ++i) {
    auto path = pipeline::resolve_lora_name(s.loras[i].name, lora_folders);
    if (!path.ok()) return sdk::Status(path.status().code(), "loras[" + std::to_string(i) + "]: " + path.status().message());
    job.loras.push_back({path.value(), s.loras[i].weight, s.loras[i].weight});
  }
  std::vector<prompt::LoraTag> tags;
  job.model_prompt = prompt::extract_lora_tags(s.prompt, tags);
  for (const auto& t : tags) {
    auto path = pipeline::resolve_lora_name(t.name, lora_folders);
    if (!path.ok()) return sdk::Status(path.status().code(), "prompt <lora:" + t.name + ">: " + path.status().message());
    job.loras.push_back({path.value(), t.unet_weight, t.text_encoder_weight});
  }
  if (static_cast<std::int64_t>(job.loras.size()) > opt.limits.max_loras)
    return sdk::invalid_argument("loras: at most " + std::to_string(opt.limits.max_loras) + " LoRAs (prompt tags included)");
  job.affinity = job.model;
  for (const auto& l : job.loras)
    job.affinity += "|" + l.path.string() + ":" + weight_text(l.unet) + ":" + weight_text(l.text_encoder);

  // Pictures: decoded now so a bad PNG is a 400, not a failed job.
  if (!s.init_image.empty()) {
    auto png = image::decode_png(s.init_image.data(), s.init_image.size(), "init_image");
    if (!png.ok()) return sdk::invalid_argument("init_image: " + png.status().message());
    job.init_image = picture_tensor(png.value().pixels);
    if (!s.size_set) {
      s.width = job.init_image.size(3);
      s.height = job.init_image.size(2);
    }
    if (job.init_image.size(3) != s.width || job.init_image.size(2) != s.height)
      return sdk::invalid_argument("init_image: the picture is " + std::to_string(job.init_image.size(3)) + "x" +
                                   std::to_string(job.init_image.size(2)) + ", the request " + std::to_string(s.width) +
                                   "x" + std::to_string(s.height));
    if (s.width % 8 != 0 || s.height % 8 != 0 || s.width > opt.limits.max_width || s.height > opt.limits.max_height)
      return sdk::invalid_argument("init_image: its size must be a multiple of 8 within the server's limits");
  }
  if (!s.mask.empty()) {
    auto png = image::decode_png(s.mask.data(), s.mask.size(), "mask");
    if (!png.ok()) return sdk::invalid_argument("mask: " + png.status().message());
    at::Tensor px = png.value().pixels.to(at::kFloat);
    at::Tensor grey = px.size(2) < 3 ? px.select(2, 0)
                                     : px.select(2, 0) * 0.299 + px.select(2, 1) * 0.587 + px.select(2, 2) * 0.114;
    job.mask = (grey / 255.0).unsqueeze(0).unsqueeze(0).contiguous();
    if (job.mask.size(2) != s.height || job.mask.size(3) != s.width)
      return sdk::invalid_argument("mask: its size differs from the init image's");
  }

  // ControlNet units: names inside the [controlnet] folders only; pictures fitted to the output
  // size and preprocessed by their type plugin now, so a bad unit is a 400, not a failed job.
  auto requests = control_requests_from_json(s.controlnets, controlnet_folders, *opt.registry);
  if (!requests.ok()) return requests.status();
  if (static_cast<std::int64_t>(requests.value().size()) > opt.limits.max_controlnets)
    return sdk::invalid_argument("controlnets: at most " + std::to_string(opt.limits.max_controlnets) + " units");
  auto prepared = pipeline::prepare_control_units(requests.value(), *opt.registry, s.width, s.height);
  if (!prepared.ok()) return sdk::Status(prepared.status().code(), "controlnets: " + prepared.status().message());
  job.controls = std::move(prepared).value();
  return {};
}

}  // namespace sdxl::server
