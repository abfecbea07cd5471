#include "pipeline/job_settings.h"

#include <set>

#include <toml++/toml.h>

#include <cstdlib>
#include <functional>
#include <map>

namespace sdxl::pipeline {
namespace {

std::string norm_key(std::string k) {
  for (auto& c : k)
    if (c == '-') c = '_';
  return k;
}

sdk::Result<std::int64_t> to_int(const std::string& v, const std::string& where) {
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0') return sdk::invalid_argument(where + ": '" + v + "' is not an integer");
  return static_cast<std::int64_t>(x);
}

sdk::Result<double> to_double(const std::string& v, const std::string& where) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') return sdk::invalid_argument(where + ": '" + v + "' is not a number");
  return x;
}

}  // namespace

sdk::Status JobSettings::set(const std::string& raw_key, const std::string& v, const std::string& where) {
  const std::string key = norm_key(raw_key);
  using Setter = std::function<sdk::Status()>;
  auto integer = [&](std::int64_t& dst, bool* flag = nullptr) -> Setter {
    return [&, flag] {
      auto r = to_int(v, where);
      if (!r.ok()) return r.status();
      dst = r.value();
      if (flag) *flag = true;
      return sdk::Status();
    };
  };
  auto number = [&](double& dst, bool* flag = nullptr) -> Setter {
    return [&, flag] {
      auto r = to_double(v, where);
      if (!r.ok()) return r.status();
      dst = r.value();
      if (flag) *flag = true;
      return sdk::Status();
    };
  };
  auto text = [&](std::string& dst) -> Setter {
    return [&] {
      dst = v;
      return sdk::Status();
    };
  };
  const std::map<std::string, Setter> setters = {
      {"prompt", text(prompt)},         {"negative", text(negative)},
      {"width", integer(width, &size_set)}, {"height", integer(height, &size_set)},
      {"steps", integer(steps, &steps_set)}, {"batch_size", integer(batch_size)},
      {"batch_count", integer(batch_count)}, {"seed", integer(seed)},
      {"cfg", number(cfg, &cfg_set)},             {"guidance_rescale", number(guidance_rescale)},
      {"strength", number(strength)},   {"sampler", text(sampler)},
      {"prompt_mode", text(prompt_mode)}, {"out", text(out)},
      {"init_image", text(init_image)}, {"model", text(model)},
      {"model_config", text(model_config)}, {"clip_vocab", text(clip_vocab)}, {"vae", text(vae)},
      {"device", text(device)},         {"dtype", text(dtype)},
      {"original_size", text(original_size)}, {"crop_top_left", text(crop_top_left)},
      {"target_size", text(target_size)}, {"negative_original_size", text(negative_original_size)},
      {"negative_crop_top_left", text(negative_crop_top_left)}, {"negative_target_size", text(negative_target_size)},
      {"refiner", text(refiner)}, {"refiner_config", text(refiner_config)},
      {"refiner_switch", number(refiner_switch)}, {"aesthetic_score", number(aesthetic_score)},
      {"negative_aesthetic_score", number(negative_aesthetic_score)},
      {"preview_every", integer(preview_every)}, {"preview_dir", text(preview_dir)},
      {"preview_taesd", text(preview_taesd)},
  };
  auto it = setters.find(key);
  if (it == setters.end()) return sdk::invalid_argument(where + ": unknown setting '" + raw_key + "'");
  return it->second();
}

sdk::Status JobSettings::validate() const {
  auto bad = [](const std::string& m) { return sdk::invalid_argument(m); };
  if (width < 8 || height < 8 || width % 8 || height % 8)
    return bad("width and height must be positive multiples of 8 (got " + std::to_string(width) + "x" + std::to_string(height) + ")");
  if (width > 8192 || height > 8192) return bad("width and height are limited to 8192");
  if (steps < 1 || steps > 1000) return bad("steps must be in [1, 1000] (got " + std::to_string(steps) + ")");
  if (batch_size < 1 || batch_size > 64) return bad("batch size must be in [1, 64]");
  if (batch_count < 1) return bad("batch count must be >= 1");
  if (!(cfg >= 0) || cfg > 100) return bad("cfg must be in [0, 100]");
  if (guidance_rescale < 0 || guidance_rescale > 1) return bad("guidance rescale must be in [0, 1]");
  if (!init_image.empty() && !(strength > 0 && strength <= 1))
    return bad("strength must be in (0, 1] (got " + std::to_string(strength) + ")");
  for (const auto* v : {&original_size, &target_size, &negative_original_size, &negative_target_size})
    if (!v->empty())
      if (auto r = parse_size(*v, "size"); !r.ok()) return r.status();
  for (const auto* v : {&crop_top_left, &negative_crop_top_left})
    if (!v->empty())
      if (auto r = parse_pair(*v, "crop"); !r.ok()) return r.status();
  if (prompt_mode != "a1111" && prompt_mode != "plain") return bad("prompt mode must be a1111 or plain");
  if (preview_every < 0) return bad("preview every: expected a positive step count (0: no previews)");
  if (!refiner.empty() && !(refiner_switch > 0 && refiner_switch < 1))
    return bad("refiner switch must be in (0, 1) (got " + std::to_string(refiner_switch) + ")");
  if (device != "auto" && device != "cpu" && device != "cuda") return bad("device must be auto, cpu or cuda");
  if (dtype != "auto" && dtype != "float32" && dtype != "float16" && dtype != "bfloat16")
    return bad("dtype must be auto, float32, float16 or bfloat16");
  return {};
}

sdk::Result<std::vector<double>> parse_pair(const std::string& text, const std::string& what) {
  const auto sep = text.find_first_of(",x");
  if (sep == std::string::npos) return sdk::invalid_argument(what + " '" + text + "': expected two numbers");
  char* e1 = nullptr;
  char* e2 = nullptr;
  const std::string a = text.substr(0, sep), b = text.substr(sep + 1);
  const double x = std::strtod(a.c_str(), &e1), y = std::strtod(b.c_str(), &e2);
  if (a.empty() || b.empty() || *e1 || *e2 || x < 0 || y < 0)
    return sdk::invalid_argument(what + " '" + text + "': expected two non-negative numbers");
  return std::vector<double>{x, y};
}

sdk::Result<std::vector<double>> parse_size(const std::string& text, const std::string& what) {
  auto p = parse_pair(text, what + " (WIDTHxHEIGHT)");
  if (!p.ok()) return p;
  return std::vector<double>{p.value()[1], p.value()[0]};  // (height, width), the order SDXL uses
}

JobSettings settings_from_config(const config::Config& c) {
  JobSettings s;
  // [model]'s paths are relative to the configuration file, as its folders are and as the server
  // reads them; command-line flags and job files stay relative to the working directory.
  auto from_config = [&](const std::string& path) { return path.empty() ? path : config::config_path(c, path).string(); };
  s.model = from_config(c.model_path);
  s.model_config = from_config(c.model_config);
  s.clip_vocab = from_config(c.clip_vocab);
  s.vae = from_config(c.vae_path);
  s.device = c.device;
  s.dtype = c.dtype;
  const std::string where = c.file.empty() ? "defaults" : c.file + " [generate]";
  for (const auto& [k, v] : c.generate_strings) (void)s.set(k, v, where);
  for (const auto& [k, v] : c.generate_numbers) {
    static const std::set<std::string> fractional = {"cfg", "guidance_rescale", "strength", "refiner_switch",
                                                     "aesthetic_score", "negative_aesthetic_score"};
    const bool integral = !fractional.count(k);
    (void)s.set(k, integral ? std::to_string(static_cast<long long>(v)) : std::to_string(v), where);
  }
  return s;
}

sdk::Result<std::vector<ControlUnitRequest>> controls_from_toml(const toml::array& list, const std::string& file) {
  std::vector<ControlUnitRequest> out;
  for (const auto& node : list) {
    const auto& src = node.source();
    const std::string where = file + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
    const auto* t = node.as_table();
    if (!t) return sdk::invalid_argument(where + ": a ControlNet unit must be a table { model = …, image = … }");
    ControlUnitRequest r;
    for (const auto& entry : *t) {
      const std::string k(entry.first.str());
      const toml::node& value = entry.second;  // a named reference: the lambdas below capture it
      const auto& vs = value.source();
      const std::string at = file + ":" + std::to_string(vs.begin.line) + ":" + std::to_string(vs.begin.column);
      auto text = [&](std::string& dst) -> sdk::Status {
        if (!value.is_string()) return sdk::invalid_argument(at + ": controlnets." + k + " must be a string");
        dst = value.as_string()->get();
        return {};
      };
      auto number = [&](std::optional<double>& dst) -> sdk::Status {
        if (!value.is_number()) return sdk::invalid_argument(at + ": controlnets." + k + " must be a number");
        dst = value.value<double>().value_or(0.0);
        return {};
      };
      sdk::Status st;
      if (k == "model") st = text(r.model);
      else if (k == "image") st = text(r.image_path);
      else if (k == "type" || k == "module") st = text(r.type);
      else if (k == "config" || k == "model_config") st = text(r.model_config);
      else if (k == "resize" || k == "resize_mode") st = text(r.resize_mode);
      else if (k == "scale" || k == "weight") st = number(r.scale);
      else if (k == "start" || k == "guidance_start") st = number(r.guidance_start);
      else if (k == "end" || k == "guidance_end") st = number(r.guidance_end);
      else if (k == "options" && value.is_table()) {
        for (const auto& [ok, ov] : *value.as_table()) {
          const std::string name(ok.str());
          if (auto b = ov.as_boolean()) r.type_options.set(name, b->get());
          else if (auto i = ov.as_integer()) r.type_options.set(name, static_cast<std::int64_t>(i->get()));
          else if (auto d = ov.as_floating_point()) r.type_options.set(name, d->get());
          else if (auto str = ov.as_string()) r.type_options.set(name, str->get());
          else return sdk::invalid_argument(at + ": controlnets.options." + name + " must be a boolean, number or string");
        }
      } else {
        return sdk::invalid_argument(at + ": unknown ControlNet unit key '" + k +
                                     "' (model, image, type, scale, start, end, resize, config, options)");
      }
      if (!st.ok()) return st;
    }
    if (auto st = validate_control_request(r, out.size()); !st.ok()) return sdk::invalid_argument(where + ": " + st.message());
    out.push_back(std::move(r));
  }
  return out;
}

sdk::Result<std::vector<ControlUnitRequest>> controls_from_config(const config::Config& c) {
  if (!c.document) return std::vector<ControlUnitRequest>{};
  const auto* list = c.document->at_path("generate.controlnets").as_array();
  if (!list) return std::vector<ControlUnitRequest>{};
  return controls_from_toml(*list, c.file);
}

sdk::Status apply_job_file(JobSettings& s, const std::string& path) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return sdk::invalid_argument(path + ":" + std::to_string(e.source().begin.line) + ":" +
                                 std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
  }
  for (const auto& [k, node] : t) {
    const auto& src = node.source();
    const std::string where = path + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
    if (k.str() == "controlnets") {
      const auto* list = node.as_array();
      if (!list) return sdk::invalid_argument(where + ": controlnets must be a list of { model = …, image = … } tables");
      auto units = controls_from_toml(*list, path);
      if (!units.ok()) return units.status();
      s.controls = units.value();
      continue;
    }
    std::string value;
    if (auto str = node.as_string()) value = str->get();
    else if (auto i = node.as_integer()) value = std::to_string(i->get());
    else if (auto d = node.as_floating_point()) value = std::to_string(d->get());
    else return sdk::invalid_argument(where + ": '" + std::string(k.str()) + "' must be a string or a number");
    if (auto st = s.set(std::string(k.str()), value, where); !st.ok()) return st;
  }
  return {};
}

}  // namespace sdxl::pipeline
