#include "pipeline/control_units.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "image/png.h"
#include "models/controlnet/controlnet_model.h"
#include "pipeline/control_image.h"
#include "plugins/registry.h"

namespace sdxl::pipeline {
namespace fs = std::filesystem;
namespace {

std::string unit_name(std::size_t i) { return "control unit " + std::to_string(i); }

sdk::Status prefixed(const sdk::Status& st, const std::string& prefix) {
  return sdk::Status(st.code(), prefix + ": " + st.message());
}

bool is_none_type(const std::string& t) { return t.empty() || t == "none" || t == "None"; }

// A path (anything with a separator, or an existing file/folder) or a bare name looked up in the
// folders as NAME, NAME.safetensors or the folder NAME/.
sdk::Result<fs::path> locate_model(const std::string& model, const std::vector<fs::path>& folders) {
  std::error_code ec;
  if (fs::exists(model, ec)) return fs::path(model);
  const bool bare = model.find('/') == std::string::npos && model.find('\\') == std::string::npos && model != "." &&
                    model != "..";
  if (bare)
    for (const auto& dir : folders)
      for (const fs::path candidate : {dir / model, dir / (model + ".safetensors")})
        if (fs::exists(candidate, ec)) return candidate;
  return sdk::not_found("ControlNet model '" + model + "' not found" +
                        (bare && !folders.empty() ? std::string(" (also looked in the ControlNet folders)") : ""));
}

sdk::Result<at::Tensor> read_picture(const ControlUnitRequest& r) {
  if (r.image.defined()) return r.image;
  if (r.image_path.empty()) return sdk::invalid_argument("no control image (image=FILE.png)");
  auto png = image::read_png(r.image_path);
  if (!png.ok()) return sdk::Status(png.status().code(), "control image: " + png.status().message());  // names the file
  return png.value().pixels;
}

// Preprocessing runs before the job's loop: nothing to report, never cancelled.
class PreparationJob final : public sdk::JobContext {
 public:
  void progress(std::int64_t, std::int64_t) override {}
  bool cancelled() const override { return false; }
};

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

}  // namespace

sdk::Status validate_control_request(const ControlUnitRequest& r, std::size_t index) {
  const std::string u = unit_name(index);
  if (r.model.empty()) return sdk::invalid_argument(u + ": no ControlNet model (model=PATH)");
  if (!r.image.defined() && r.image_path.empty()) return sdk::invalid_argument(u + ": no control image (image=FILE.png)");
  if (r.scale && !(std::isfinite(*r.scale) && *r.scale >= 0))
    return sdk::invalid_argument(u + ": scale must be a number >= 0");
  const double start = r.guidance_start.value_or(0.0), end = r.guidance_end.value_or(1.0);
  if (!(start >= 0 && start <= 1)) return sdk::invalid_argument(u + ": guidance start must be in [0, 1]");
  if (!(end >= 0 && end <= 1)) return sdk::invalid_argument(u + ": guidance end must be in [0, 1]");
  if (r.guidance_start && r.guidance_end && start > end)
    return sdk::invalid_argument(u + ": guidance start " + format_number(start) + " is after guidance end " +
                                 format_number(end));
  if (auto m = parse_resize_mode(r.resize_mode); !m.ok()) return prefixed(m.status(), u);
  if (r.image.defined() && (r.image.dim() != 3 || r.image.scalar_type() != at::kByte))
    return sdk::invalid_argument(u + ": the control image must be uint8 [H, W, 3]");
  return {};
}

sdk::Result<ControlUnitRequest> parse_control_argument(const std::string& text) {
  ControlUnitRequest r;
  const std::string what = "--control '" + text + "'";
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string::npos) return sdk::invalid_argument(what + ": '" + item + "' is not key=value");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    auto number = [&](std::optional<double>& dst) -> sdk::Status {
      char* end = nullptr;
      const double x = std::strtod(value.c_str(), &end);
      if (value.empty() || *end) return sdk::invalid_argument(what + ": " + key + " '" + value + "' is not a number");
      dst = x;
      return {};
    };
    sdk::Status st;
    if (key == "model") r.model = value;
    else if (key == "config" || key == "model_config") r.model_config = value;
    else if (key == "image") r.image_path = value;
    else if (key == "type" || key == "module") r.type = value;
    else if (key == "scale" || key == "weight") st = number(r.scale);
    else if (key == "start" || key == "guidance_start") st = number(r.guidance_start);
    else if (key == "end" || key == "guidance_end") st = number(r.guidance_end);
    else if (key == "resize" || key == "resize_mode") r.resize_mode = value;
    else
      return sdk::invalid_argument(what + ": unknown key '" + key +
                                   "' (model, image, type, scale, start, end, resize, config)");
    if (!st.ok()) return st;
  }
  if (r.model.empty() || r.image_path.empty()) return sdk::invalid_argument(what + ": model=… and image=… are required");
  return r;
}

sdk::Result<std::vector<PreparedControlUnit>> prepare_control_units(const std::vector<ControlUnitRequest>& requests,
                                                                    const plugins::PluginRegistry& registry,
                                                                    std::int64_t width, std::int64_t height,
                                                                    const std::vector<fs::path>& folders) {
  std::vector<PreparedControlUnit> out;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    const std::string u = unit_name(i);
    if (auto st = validate_control_request(r, i); !st.ok()) return st;
    PreparedControlUnit p;
    auto path = locate_model(r.model, folders);
    if (!path.ok()) return prefixed(path.status(), u);
    p.model_path = path.value();
    p.model_config = r.model_config;
    std::unique_ptr<sdk::ControlNetType> type;
    sdk::ControlDefaults defaults;
    p.type = "none";
    if (!is_none_type(r.type)) {
      auto created = registry.create_controlnet_type(r.type, r.type_options.all().empty() ? nullptr : &r.type_options);
      if (!created.ok()) return prefixed(created.status(), u);
      type = std::move(created).value();
      defaults = type->defaults();
      const auto* feature = registry.find(sdk::FeatureKind::controlnet_type, r.type);
      p.type = feature ? feature->info.name : r.type;
    }
    p.scale = r.scale.value_or(defaults.conditioning_scale);
    p.guidance_start = r.guidance_start.value_or(defaults.guidance_start);
    p.guidance_end = r.guidance_end.value_or(defaults.guidance_end);
    if (p.guidance_start > p.guidance_end)
      return sdk::invalid_argument(u + ": guidance start " + format_number(p.guidance_start) + " is after guidance end " +
                                   format_number(p.guidance_end));
    const ResizeMode mode = parse_resize_mode(r.resize_mode).value();
    p.resize_mode = resize_mode_name(mode);
    auto picture = read_picture(r);
    if (!picture.ok()) return prefixed(picture.status(), u);
    // Fit first, then preprocess at the output resolution: detectors then see the geometry the
    // ControlNet will, and thin edge maps are not blurred by a later resampling.
    auto fitted = fit_control_image(picture.value(), width, height, mode);
    if (!fitted.ok()) return prefixed(fitted.status(), u + (r.image_path.empty() ? "" : " (" + r.image_path + ")"));
    at::Tensor control = fitted.value();
    if (type) {
      PreparationJob job;
      auto processed = type->preprocess(control, &job);
      if (!processed.ok()) return prefixed(processed.status(), u + " (type " + p.type + ")");
      const at::Tensor& m = processed.value();
      if (!m.defined() || m.dim() != 3 || m.scalar_type() != at::kByte)
        return sdk::internal_error(u + ": type " + p.type + " returned no uint8 [H, W, C] control image");
      // A detector working at its own resolution is brought back to the output size.
      auto back = fit_control_image(m, width, height, ResizeMode::just_resize);
      if (!back.ok()) return prefixed(back.status(), u + " (type " + p.type + ")");
      control = back.value();
    }
    p.picture = control;
    out.push_back(std::move(p));
  }
  return out;
}

sdk::Result<std::vector<ControlUnit>> load_control_units(const std::vector<PreparedControlUnit>& prepared,
                                                         const models::UNet2DConditionModel& unet,
                                                         const std::string& unet_source) {
  std::vector<ControlUnit> out;
  for (std::size_t i = 0; i < prepared.size(); ++i) {
    const auto& p = prepared[i];
    const std::string u = unit_name(i) + " (" + p.model_path.string() + ")";
    // shared_controlnet caches by file: units naming the same model hold one copy of its weights.
    // Laid out as the UNet is ([gpu] channels_last, fused_qkv): its residuals then come out in the
    // layout the UNet adds them to.
    const models::ControlNetWeightLayout layout{unet.channels_last(), unet.stacked_self_attentions() > 0};
    auto model = models::shared_controlnet(p.model_path, p.model_config, unet.dtype(), unet.device(), layout);
    if (!model.ok()) return prefixed(model.status(), u);
    if (auto st = model.value()->check_compatible(unet.config(), unet_source); !st.ok()) return prefixed(st, u);
    ControlUnit c;
    c.model = model.value();
    c.image = control_image_tensor(p.picture);
    c.scale = p.scale;
    c.guidance_start = p.guidance_start;
    c.guidance_end = p.guidance_end;
    std::error_code ec;
    const fs::path clean = p.model_path.filename().empty() ? p.model_path.parent_path() : p.model_path;
    c.model_name = fs::is_directory(clean, ec) ? clean.filename().string() : clean.stem().string();
    c.type = p.type;
    c.resize_mode = p.resize_mode;
    out.push_back(std::move(c));
  }
  return out;
}

sdk::Result<std::vector<ControlUnit>> resolve_control_units(const std::vector<ControlUnitRequest>& requests,
                                                            const models::UNet2DConditionModel& unet,
                                                            const plugins::PluginRegistry& registry,
                                                            std::int64_t width, std::int64_t height,
                                                            const std::vector<fs::path>& folders) {
  auto prepared = prepare_control_units(requests, registry, width, height, folders);
  if (!prepared.ok()) return prepared.status();
  return load_control_units(prepared.value(), unet);
}

at::Tensor control_image_tensor(const at::Tensor& picture) {
  return (picture.to(at::kFloat).permute({2, 0, 1}).unsqueeze(0) / 255.0).contiguous();
}

bool control_unit_active(const ControlUnit& u, std::int64_t i, std::int64_t n) {
  if (n <= 0) return false;
  const double a = static_cast<double>(i) / static_cast<double>(n);
  const double b = static_cast<double>(i + 1) / static_cast<double>(n);
  return !(a < u.guidance_start || b > u.guidance_end);
}

namespace {

// One unit's text context on its model's device and dtype, and its cross-attention keys/values,
// kept for the job's calls while the unit has the same model and the UNet's context is the same
// tensor, unmodified.
struct UnitContext {
  const models::ControlNetModel* model = nullptr;
  at::Tensor source;  // the UNet's encoder_hidden_states they were made from
  std::int64_t source_version = 0;
  at::Tensor context;
  std::shared_ptr<const models::CrossAttentionKV> kv;

  bool made_for(const models::ControlNetModel& net, const at::Tensor& ehs) const {
    return kv && model == &net && source.is_same(ehs) && static_cast<std::int64_t>(ehs._version()) == source_version;
  }
};

}  // namespace

ControlStepFn make_control_step(const std::vector<ControlUnit>& units) {
  // Pictures repeated to the call's rows on the model's device/dtype, made once per row count.
  auto cache = std::make_shared<std::map<std::pair<std::size_t, std::int64_t>, at::Tensor>>();
  auto contexts = std::make_shared<std::vector<UnitContext>>();
  return [&units, cache, contexts](std::int64_t call, std::int64_t calls,
                                   const models::UNetInputs& in) -> sdk::Result<ControlStepResiduals> {
    if (contexts->size() < units.size()) contexts->resize(units.size());
    ControlStepResiduals acc;
    const std::int64_t rows = in.sample.size(0);
    for (std::size_t k = 0; k < units.size(); ++k) {
      const ControlUnit& u = units[k];
      if (!control_unit_active(u, call, calls)) continue;
      const auto& net = *u.model;
      auto to_net = [&](const at::Tensor& t) { return t.to(net.device(), net.dtype()); };
      at::Tensor& cond = (*cache)[{k, rows}];
      if (!cond.defined()) cond = to_net(u.image.expand({rows, -1, -1, -1})).contiguous();
      models::ControlNetInputs ci;
      // A 9-channel inpaint UNet gets extra input channels; the ControlNet sees only the latents.
      const std::int64_t cn_in = net.config().unet.in_channels;
      ci.sample = to_net(in.sample.size(1) > cn_in ? in.sample.slice(1, 0, cn_in) : in.sample);
      ci.timestep = in.timestep.to(net.device());
      UnitContext& uc = (*contexts)[k];
      if (!uc.made_for(net, in.encoder_hidden_states)) {  // a job's first call: its keys and values once
        uc.model = &net;
        uc.context = to_net(in.encoder_hidden_states);
        auto kv = net.cross_attention_kv(uc.context);
        if (!kv.ok()) return prefixed(kv.status(), unit_name(k) + " (" + u.model_name + ")");
        uc.kv = std::move(kv).value();
        uc.source = in.encoder_hidden_states;
        uc.source_version = static_cast<std::int64_t>(in.encoder_hidden_states._version());
      }
      ci.encoder_hidden_states = uc.context;
      ci.context_kv = uc.kv;
      ci.text_embeds = to_net(in.text_embeds);
      ci.time_ids = to_net(in.time_ids);
      ci.controlnet_cond = cond;
      ci.conditioning_scale = u.scale;
      auto r = net.forward(ci);
      if (!r.ok()) return prefixed(r.status(), unit_name(k) + " (" + u.model_name + ")");
      auto& res = r.value();
      const auto dev = in.sample.device();
      const auto dt = in.sample.scalar_type();
      if (!acc.any) {
        for (auto& d : res.down) acc.down.push_back(d.to(dev, dt));
        acc.mid = res.mid.to(dev, dt);
        acc.any = true;
        continue;
      }
      if (res.down.size() != acc.down.size())
        return sdk::invalid_argument(unit_name(k) + " (" + u.model_name + "): " + std::to_string(res.down.size()) +
                                     " down residuals, another unit gave " + std::to_string(acc.down.size()));
      for (std::size_t j = 0; j < acc.down.size(); ++j) acc.down[j] = acc.down[j] + res.down[j].to(dev, dt);
      acc.mid = acc.mid + res.mid.to(dev, dt);
    }
    return acc;
  };
}

std::vector<std::pair<std::string, std::string>> control_infotext(const std::vector<ControlUnit>& units) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < units.size(); ++i) {
    const auto& u = units[i];
    auto mode = parse_resize_mode(u.resize_mode);
    const std::string value = "Module: " + u.type + ", Model: " + u.model_name + ", Weight: " + format_number(u.scale) +
                              ", Resize Mode: " + resize_mode_a1111_name(mode.ok() ? mode.value() : ResizeMode::crop_and_resize) +
                              ", Guidance Start: " + format_number(u.guidance_start) +
                              ", Guidance End: " + format_number(u.guidance_end);
    out.emplace_back("ControlNet " + std::to_string(i), value);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> job_infotext_fields(const std::string& vae_name,
                                                                     const std::vector<ControlUnit>& units) {
  std::vector<std::pair<std::string, std::string>> fields;
  if (!vae_name.empty()) fields.emplace_back("VAE", vae_name);
  for (auto& field : control_infotext(units)) fields.push_back(std::move(field));
  return fields;
}

}  // namespace sdxl::pipeline
