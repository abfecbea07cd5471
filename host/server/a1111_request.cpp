#include "server/a1111_request.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <ctime>

#include "image/png.h"
#include "pipeline/infotext.h"
#include "server/a1111_samplers.h"

namespace sdxl::server {
namespace {

using json = nlohmann::json;

sdk::Status wrong_type(const std::string& key, const char* expected, const json& v) {
  return sdk::invalid_argument(key + ": expected " + expected + ", got " + v.type_name() +
                               (v.is_primitive() ? " " + v.dump() : ""));
}

// Each getter leaves `out` alone when the field is absent or null (A1111's "use the default").
sdk::Status get_int(const json& body, const char* key, std::int64_t& out, bool& set) {
  set = false;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  if (it->is_number_integer()) out = it->get<std::int64_t>();
  else if (it->is_number_float() && std::isfinite(it->get<double>()) && std::floor(it->get<double>()) == it->get<double>() &&
           std::fabs(it->get<double>()) < 9.0e15)
    out = static_cast<std::int64_t>(it->get<double>());  // pydantic accepts 20.0 for an int field
  else return wrong_type(key, "an integer", *it);
  set = true;
  return {};
}

sdk::Status get_number(const json& body, const char* key, double& out, bool& set) {
  set = false;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_number() || !std::isfinite(it->get<double>())) return wrong_type(key, "a number", *it);
  out = it->get<double>();
  set = true;
  return {};
}

sdk::Status get_string(const json& body, const char* key, std::string& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_string()) return wrong_type(key, "a string", *it);
  out = it->get<std::string>();
  return {};
}

sdk::Status get_bool(const json& body, const char* key, bool& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  if (it->is_boolean()) out = it->get<bool>();
  else if (it->is_number_integer()) out = it->get<std::int64_t>() != 0;
  else return wrong_type(key, "a boolean", *it);
  return {};
}

// A1111 mask convention (white = repaint) with inpainting_mask_invert = 1: black = repaint.
sdk::Result<std::string> inverted_mask(const std::string& base64_png) {
  std::string text = base64_png;
  if (text.rfind("data:", 0) == 0 && text.find(',') != std::string::npos) text = text.substr(text.find(',') + 1);
  auto bytes = base64_decode(text, "mask");
  if (!bytes.ok()) return bytes.status();
  auto png = image::decode_png(bytes.value().data(), bytes.value().size(), "mask");
  if (!png.ok()) return png.status();
  at::Tensor px = png.value().pixels.clone();  // uint8 [H, W, C]
  const std::int64_t colour = px.size(2) == 4 ? 3 : px.size(2) == 2 ? 1 : px.size(2);
  px.narrow(2, 0, colour).copy_(255 - px.narrow(2, 0, colour));
  auto encoded = image::encode_png(px);
  if (!encoded.ok()) return encoded.status();
  return base64_encode(encoded.value().data(), encoded.value().size());
}

}  // namespace

sdk::Result<A1111Jobs> a1111_to_jobs(const json& body, bool img2img, const ServerLimits& limits,
                                     const std::vector<std::string>& available_samplers, std::int64_t random_seed) {
  if (!body.is_object()) return wrong_type("request", "a JSON object", body);
  A1111Jobs out;
  json job = json::object();
  std::string prompt, negative, sampler_name, sampler_index, scheduler, script_name, model;
  if (auto st = get_string(body, "prompt", prompt); !st.ok()) return st;
  if (auto st = get_string(body, "negative_prompt", negative); !st.ok()) return st;
  if (auto st = get_string(body, "sampler_name", sampler_name); !st.ok()) return st;
  if (auto st = get_string(body, "sampler_index", sampler_index); !st.ok()) return st;
  if (auto st = get_string(body, "scheduler", scheduler); !st.ok()) return st;
  if (auto st = get_string(body, "script_name", script_name); !st.ok()) return st;
  if (!script_name.empty()) return sdk::invalid_argument("script_name: scripts are not supported ('" + script_name + "')");
  job["prompt"] = prompt;
  if (!negative.empty()) job["negative"] = negative;

  std::int64_t width = 0, height = 0, steps = 0, seed = -1, batch_size = 1, n_iter = 1;
  bool set = false;
  for (auto [key, dst, native] : {std::tuple<const char*, std::int64_t*, const char*>{"width", &width, "width"},
                                  {"height", &height, "height"}, {"steps", &steps, "steps"}}) {
    if (auto st = get_int(body, key, *dst, set); !st.ok()) return st;
    if (set) job[native] = *dst;
  }
  if (auto st = get_int(body, "seed", seed, set); !st.ok()) return st;
  if (auto st = get_int(body, "batch_size", batch_size, set); !st.ok()) return st;
  if (auto st = get_int(body, "n_iter", n_iter, set); !st.ok()) return st;
  if (batch_size < 1 || n_iter < 1) return sdk::invalid_argument("batch_size and n_iter must be at least 1");
  if (batch_size * n_iter > limits.max_batch)
    return sdk::invalid_argument("batch_size x n_iter: " + std::to_string(batch_size * n_iter) +
                                 " images exceeds the limit of " + std::to_string(limits.max_batch) + " per request");
  double cfg = 0, strength = 0.75;
  if (auto st = get_number(body, "cfg_scale", cfg, set); !st.ok()) return st;
  if (set) job["cfg"] = cfg;
  bool enable_hr = false;
  if (auto st = get_bool(body, "enable_hr", enable_hr); !st.ok()) return st;
  if (enable_hr) return sdk::invalid_argument("enable_hr: hires fix is not supported by this server");
  if (auto st = get_bool(body, "send_images", out.send_images); !st.ok()) return st;

  // Sampler: sampler_name (+ scheduler); sampler_index is A1111's legacy alias of sampler_name.
  if (sampler_name.empty()) sampler_name = sampler_index;
  auto feature = a1111_to_feature(sampler_name, scheduler, available_samplers);
  if (!feature.ok()) return feature.status();
  if (!feature.value().empty()) job["sampler"] = feature.value();

  if (auto it = body.find("override_settings"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return wrong_type("override_settings", "an object", *it);
    if (auto st = get_string(*it, "sd_model_checkpoint", model); !st.ok()) return st;
    if (!model.empty()) job["model"] = model;
  }
  if (auto it = body.find("alwayson_scripts"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return wrong_type("alwayson_scripts", "an object", *it);
    for (auto s = it->begin(); s != it->end(); ++s) {
      if (s.key() != "controlnet" && s.key() != "ControlNet")
        return sdk::invalid_argument("alwayson_scripts: unsupported script '" + s.key() + "' (only controlnet)");
      const json& args = s.value().is_object() && s.value().contains("args") ? s.value()["args"] : json();
      if (!args.is_array()) return sdk::invalid_argument("alwayson_scripts." + s.key() + ".args: expected an array of units");
      job["controlnets"] = args;
    }
  }

  if (img2img) {
    auto it = body.find("init_images");
    if (it == body.end() || !it->is_array() || it->empty())
      return sdk::invalid_argument("init_images: img2img needs one base64 image");
    if (it->size() > 1) return sdk::invalid_argument("init_images: only one init image is supported (got " + std::to_string(it->size()) + ")");
    if (!(*it)[0].is_string()) return wrong_type("init_images[0]", "a base64 string", (*it)[0]);
    job["init_image"] = (*it)[0];
    if (auto st = get_number(body, "denoising_strength", strength, set); !st.ok()) return st;
    job["strength"] = strength;  // A1111's img2img default is 0.75
    std::string mask;
    if (auto st = get_string(body, "mask", mask); !st.ok()) return st;
    std::int64_t invert = 0;
    if (auto st = get_int(body, "inpainting_mask_invert", invert, set); !st.ok()) return st;
    if (!mask.empty()) {
      if (invert != 0) {
        auto inv = inverted_mask(mask);
        if (!inv.ok()) return inv.status();
        mask = inv.value();
      }
      job["mask"] = mask;
    }
  }

  if (seed < 0) seed = random_seed;
  out.seed = seed;
  job["batch_size"] = batch_size;
  for (std::int64_t k = 0; k < n_iter; ++k) {
    json j = job;
    j["seed"] = seed + k * batch_size;  // A1111: image i of the request has seed + i
    out.jobs.push_back(std::move(j));
  }
  out.parameters = body;
  out.parameters["seed"] = seed;
  if (img2img) out.parameters["init_images"] = nullptr, out.parameters["mask"] = nullptr;  // as A1111: not echoed
  return out;
}

json a1111_response(const A1111Jobs& request, const std::vector<JobSnapshot>& results) {
  json images = json::array(), prompts = json::array(), negatives = json::array(), seeds = json::array(),
       infotexts = json::array();
  std::string sampler, model;
  std::int64_t width = 0, height = 0, steps = 0, batch_size = 0;
  double cfg = 0, strength = 0;
  for (const auto& r : results) {
    for (const auto& img : r.images) {
      if (request.send_images) images.push_back(base64_encode(img.png.data(), img.png.size()));
      prompts.push_back(r.spec.prompt);
      negatives.push_back(r.spec.negative);
      seeds.push_back(img.seed);
      infotexts.push_back(img.infotext);
    }
    if (sampler.empty()) sampler = feature_to_a1111(r.sampler).first;
    if (model.empty()) model = r.model;
    width = r.spec.width, height = r.spec.height, steps = r.spec.steps, cfg = r.spec.cfg;
    batch_size = r.spec.batch_size;
    strength = r.spec.init_image.empty() ? 0.0 : r.spec.strength;
  }
  const std::string prompt = prompts.empty() ? "" : prompts[0].get<std::string>();
  const std::string negative = negatives.empty() ? "" : negatives[0].get<std::string>();
  // A1111's Processed.js() fields (those that mean something here).
  json info = {{"prompt", prompt}, {"all_prompts", prompts}, {"negative_prompt", negative},
               {"all_negative_prompts", negatives}, {"seed", seeds.empty() ? json(request.seed) : seeds[0]},
               {"all_seeds", seeds}, {"subseed", -1}, {"all_subseeds", seeds}, {"subseed_strength", 0},
               {"width", width}, {"height", height}, {"sampler_name", sampler}, {"cfg_scale", cfg},
               {"steps", steps}, {"batch_size", batch_size}, {"restore_faces", false},
               {"face_restoration_model", nullptr}, {"sd_model_name", model}, {"sd_model_hash", nullptr},
               {"sd_vae_name", nullptr}, {"sd_vae_hash", nullptr}, {"seed_resize_from_w", -1},
               {"seed_resize_from_h", -1}, {"denoising_strength", strength}, {"extra_generation_params", json::object()},
               {"index_of_first_image", 0}, {"infotexts", infotexts}, {"styles", json::array()},
               {"job_timestamp", std::to_string(std::time(nullptr))}, {"clip_skip", 1},
               {"is_using_inpainting_conditioning", false}, {"version", std::string("sdxl-worker ") + SDXL_VERSION}};
  return {{"images", images}, {"parameters", request.parameters}, {"info", info.dump()}};
}

sdk::Result<json> a1111_png_info(const std::string& base64_png) {
  std::string text = base64_png;
  if (text.rfind("data:", 0) == 0 && text.find(',') != std::string::npos) text = text.substr(text.find(',') + 1);
  auto bytes = base64_decode(text, "image");
  if (!bytes.ok()) return bytes.status();
  auto png = image::decode_png(bytes.value().data(), bytes.value().size(), "image");
  if (!png.ok()) return sdk::invalid_argument("image: " + png.status().message());
  json items = json::object();
  std::string info;
  for (const auto& [k, v] : png.value().text) {
    if (k == "parameters") info = v;
    else items[k] = v;
  }
  json parameters = json::object();
  if (!info.empty()) {
    const auto parsed = pipeline::parse_infotext(info);
    parameters["Prompt"] = parsed.prompt;
    parameters["Negative prompt"] = parsed.negative;
    for (const auto& [k, v] : parsed.fields) {
      parameters[k] = v;
      if (k == "Size" && v.find('x') != std::string::npos) {  // A1111 also splits "Size-1"/"Size-2"
        parameters["Size-1"] = v.substr(0, v.find('x'));
        parameters["Size-2"] = v.substr(v.find('x') + 1);
      }
    }
  }
  return json{{"info", info}, {"items", items}, {"parameters", parameters}};
}

}  // namespace sdxl::server
