#include "server/job_controlnets.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "image/png.h"
#include "pipeline/control_image.h"
#include "plugins/registry.h"
#include "server/job.h"
#include "util/json_file.h"

namespace sdxl::server {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A diffusers folder whose config.json does not name another class ("AutoencoderTiny"…).
bool is_controlnet_folder(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_directory(p, ec) || !fs::is_regular_file(p / "config.json", ec)) return false;
  auto config = util::read_json_file(p / "config.json");
  if (!config.ok() || !config.value().is_object()) return true;  // the loader reports what is wrong
  const auto it = config.value().find("_class_name");
  return it == config.value().end() || !it->is_string() || it->get<std::string>().find("ControlNet") != std::string::npos;
}

// A1111 lists models as "name [hash]"; clients send that string back.
std::string without_hash(const std::string& name) {
  const auto open = name.rfind(" [");
  if (open == std::string::npos || name.empty() || name.back() != ']') return name;
  const std::string hash = name.substr(open + 2, name.size() - open - 3);
  const bool hex = !hash.empty() && std::all_of(hash.begin(), hash.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  return hex ? name.substr(0, open) : name;
}

// The registry's feature for a type or an A1111 module name ("depth_leres" → its family "depth").
sdk::Result<std::string> type_feature(const std::string& type, const plugins::PluginRegistry& registry,
                                      const std::string& where) {
  if (type.empty() || type == "none" || type == "None") return std::string("none");
  if (const auto* f = registry.find(sdk::FeatureKind::controlnet_type, type)) return f->info.name;
  const auto underscore = type.find('_');
  if (underscore != std::string::npos && underscore > 0)
    if (const auto* f = registry.find(sdk::FeatureKind::controlnet_type, type.substr(0, underscore))) return f->info.name;
  std::string names;
  for (const auto& n : registry.names(sdk::FeatureKind::controlnet_type)) names += (names.empty() ? "" : ", ") + n;
  return sdk::invalid_argument(where + ": unknown ControlNet type '" + type + "' (available: none" +
                               (names.empty() ? "" : ", " + names) + ")");
}

sdk::Result<at::Tensor> decode_picture(const json& v, const std::string& where) {
  const json* text = &v;
  if (v.is_object()) {  // A1111: {"image": base64, "mask": base64 or null}
    auto it = v.find("image");
    if (it == v.end()) return sdk::invalid_argument(where + ": expected a base64 PNG or {\"image\": base64}");
    text = &*it;
  }
  if (!text->is_string() || text->get<std::string>().empty())
    return sdk::invalid_argument(where + ": expected a base64 PNG");
  auto bytes = base64_png(text->get<std::string>(), where);
  if (!bytes.ok()) return bytes.status();
  auto png = image::decode_png(bytes.value().data(), bytes.value().size(), where);
  if (!png.ok()) return sdk::invalid_argument(where + ": " + png.status().message());
  return png.value().pixels;
}

sdk::Status number(const json& v, const std::string& where, std::optional<double>& out) {
  if (!v.is_number()) return sdk::invalid_argument(where + ": expected a number");
  const double x = v.get<double>();
  if (!std::isfinite(x)) return sdk::invalid_argument(where + ": expected a finite number");
  out = x;
  return {};
}

sdk::Status resize_mode(const json& v, const std::string& where, std::string& out) {
  if (v.is_number_integer()) {
    static const char* kModes[] = {"just_resize", "crop_and_resize", "resize_and_fill"};  // A1111's order
    const auto i = v.get<std::int64_t>();
    if (i < 0 || i > 2) return sdk::invalid_argument(where + ": expected 0, 1 or 2 (got " + std::to_string(i) + ")");
    out = kModes[i];
    return {};
  }
  if (!v.is_string()) return sdk::invalid_argument(where + ": expected a string or 0, 1, 2");
  auto mode = pipeline::parse_resize_mode(v.get<std::string>());
  if (!mode.ok()) return sdk::invalid_argument(where + ": " + mode.status().message());
  out = pipeline::resize_mode_name(mode.value());
  return {};
}

sdk::Status type_options(const json& v, const std::string& where, sdk::Options& out) {
  if (!v.is_object()) return sdk::invalid_argument(where + ": expected an object { option: value }");
  for (auto it = v.begin(); it != v.end(); ++it) {
    const json& o = it.value();
    if (o.is_boolean()) out.set(it.key(), o.get<bool>());
    else if (o.is_number_integer()) out.set(it.key(), o.get<std::int64_t>());
    else if (o.is_number()) out.set(it.key(), o.get<double>());
    else if (o.is_string()) out.set(it.key(), o.get<std::string>());
    else return sdk::invalid_argument(where + "." + it.key() + ": expected a boolean, number or string");
  }
  return {};
}

struct A1111Extras {
  std::optional<double> threshold_a, threshold_b;
};

sdk::Result<std::optional<pipeline::ControlUnitRequest>> unit_from_json(const json& u, const std::string& where,
                                                                       const std::vector<fs::path>& folders,
                                                                       const plugins::PluginRegistry& registry) {
  if (!u.is_object()) return sdk::invalid_argument(where + ": expected an object {model, image, …}");
  if (auto it = u.find("enabled"); it != u.end()) {
    if (!it->is_boolean()) return sdk::invalid_argument(where + ".enabled: expected true or false");
    if (!it->get<bool>()) return std::optional<pipeline::ControlUnitRequest>{};
  }
  pipeline::ControlUnitRequest r;
  A1111Extras extras;
  std::string model, type;
  for (auto it = u.begin(); it != u.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    const std::string at = where + "." + k;
    sdk::Status st;
    if (k == "model") {
      if (!v.is_string()) return sdk::invalid_argument(at + ": expected a ControlNet name");
      model = without_hash(v.get<std::string>());
    } else if (k == "image" || k == "input_image") {
      auto pic = decode_picture(v, at);
      if (!pic.ok()) return pic.status();
      r.image = pic.value();
    } else if (k == "type" || k == "module") {
      if (!v.is_string()) return sdk::invalid_argument(at + ": expected a string");
      type = v.get<std::string>();
    } else if (k == "scale" || k == "weight") st = number(v, at, r.scale);
    else if (k == "guidance_start" || k == "start") st = number(v, at, r.guidance_start);
    else if (k == "guidance_end" || k == "end") st = number(v, at, r.guidance_end);
    else if (k == "resize_mode" || k == "resize") st = resize_mode(v, at, r.resize_mode);
    else if (k == "options") st = type_options(v, at, r.type_options);
    else if (k == "threshold_a") st = number(v, at, extras.threshold_a);
    else if (k == "threshold_b") st = number(v, at, extras.threshold_b);
    else if (k == "control_mode") {
      const bool balanced = (v.is_number_integer() && v.get<std::int64_t>() == 0) || (v.is_string() && v.get<std::string>() == "Balanced");
      if (!balanced) return sdk::invalid_argument(at + ": only \"Balanced\" (0) is supported");
    } else if (k == "guess_mode") {
      if (!v.is_boolean() || v.get<bool>()) return sdk::invalid_argument(at + ": guess mode is not supported");
    } else if (k == "enabled" || k == "processor_res" || k == "pixel_perfect" || k == "low_vram" || k == "lowvram") {
      // accepted, no effect (see the header)
    } else {
      return sdk::invalid_argument(at + ": unknown field (model, image, type, weight, guidance_start, guidance_end, "
                                        "resize_mode, options, enabled and A1111's unit fields)");
    }
    if (!st.ok()) return st;
  }
  if (model.empty() || model == "None") return sdk::invalid_argument(where + ".model: a ControlNet name is required");
  auto path = resolve_controlnet_name(model, folders);
  if (!path.ok()) return sdk::Status(path.status().code(), where + ".model: " + path.status().message());
  r.model = path.value().string();
  if (!r.image.defined()) return sdk::invalid_argument(where + ".image: a base64 PNG control picture is required");
  auto feature = type_feature(type, registry, where + (u.contains("module") ? ".module" : ".type"));
  if (!feature.ok()) return feature.status();
  r.type = feature.value();
  if (r.type == "canny") {  // A1111's module parameters
    if (extras.threshold_a && *extras.threshold_a >= 0 && !r.type_options.has("low_threshold"))
      r.type_options.set("low_threshold", static_cast<std::int64_t>(std::lround(*extras.threshold_a)));
    if (extras.threshold_b && *extras.threshold_b >= 0 && !r.type_options.has("high_threshold"))
      r.type_options.set("high_threshold", static_cast<std::int64_t>(std::lround(*extras.threshold_b)));
  }
  return std::optional<pipeline::ControlUnitRequest>(std::move(r));
}

}  // namespace

sdk::Result<fs::path> resolve_controlnet_name(const std::string& name, const std::vector<fs::path>& folders) {
  if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos || name == "." ||
      name == ".." || name.front() == '.')
    return sdk::invalid_argument("ControlNet name '" + name + "': only a name inside the ControlNet folders is allowed");
  if (folders.empty()) return sdk::not_found("ControlNet '" + name + "': this server has no [controlnet] folders");
  for (const auto& dir : folders) {
    std::error_code ec;
    const fs::path file = dir / (name + ".safetensors");
    if (fs::is_regular_file(file, ec)) return file;
    if (is_controlnet_folder(dir / name)) return dir / name;
    if (fs::path(name).extension() == ".safetensors" && fs::is_regular_file(dir / name, ec)) return dir / name;
  }
  return sdk::not_found("ControlNet '" + name + "' not found in the ControlNet folders");
}

std::vector<std::string> controlnet_names(const std::vector<fs::path>& folders) {
  std::set<std::string> names;
  for (const auto& dir : folders) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path p = it->path();
      if (p.filename().string().front() == '.') continue;
      if (p.extension() == ".safetensors" && fs::is_regular_file(p, ec)) names.insert(p.stem().string());
      else if (is_controlnet_folder(p)) names.insert(p.filename().string());
    }
  }
  return {names.begin(), names.end()};
}

sdk::Result<std::vector<pipeline::ControlUnitRequest>> control_requests_from_json(const json& units,
                                                                                  const std::vector<fs::path>& folders,
                                                                                  const plugins::PluginRegistry& registry) {
  std::vector<pipeline::ControlUnitRequest> out;
  if (units.is_null()) return out;
  if (!units.is_array()) return sdk::invalid_argument("controlnets: expected an array of units");
  for (std::size_t i = 0; i < units.size(); ++i) {
    const std::string where = "controlnets[" + std::to_string(i) + "]";
    auto unit = unit_from_json(units[i], where, folders, registry);
    if (!unit.ok()) return unit.status();
    if (!unit.value()) continue;
    if (auto st = pipeline::validate_control_request(*unit.value(), out.size()); !st.ok())
      return sdk::invalid_argument(where + ": " + st.message());
    out.push_back(std::move(*unit.value()));
  }
  return out;
}

}  // namespace sdxl::server
