#include "pipeline/infotext.h"

#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "pipeline/lora_stack.h"

namespace sdxl::pipeline {

std::string quote_if_needed(const std::string& value) {
  if (value.find_first_of(",:\"\n") == std::string::npos) return value;
  return nlohmann::json(value).dump();  // JSON string quoting, as A1111's infotext quote()
}

std::string InfoText::render() const {
  std::string out = prompt;
  if (!negative.empty()) out += "\nNegative prompt: " + negative;
  std::string line;
  for (const auto& [k, v] : fields) {
    if (v.empty()) continue;
    line += (line.empty() ? "" : ", ") + k + ": " + quote_if_needed(v);
  }
  if (!line.empty()) out += "\n" + line;
  return out;
}

InfoText parse_infotext(const std::string& text) {
  InfoText info;
  // The last line holding "Steps: " is the parameter line; before it, prompt and negative.
  std::vector<std::string> lines;
  for (std::size_t s = 0;;) {
    auto e = text.find('\n', s);
    lines.push_back(text.substr(s, e == std::string::npos ? std::string::npos : e - s));
    if (e == std::string::npos) break;
    s = e + 1;
  }
  std::string params;
  if (!lines.empty() && lines.back().rfind("Steps: ", 0) == 0) {
    params = lines.back();
    lines.pop_back();
  }
  bool in_negative = false;
  for (const auto& l : lines) {
    if (!in_negative && l.rfind("Negative prompt: ", 0) == 0) {
      in_negative = true;
      info.negative = l.substr(17);
      continue;
    }
    std::string& dst = in_negative ? info.negative : info.prompt;
    dst += (dst.empty() && &dst == &info.prompt ? "" : "\n") + l;
  }
  // key: value pairs separated by ", ", values optionally JSON-quoted.
  std::size_t i = 0;
  while (i < params.size()) {
    auto colon = params.find(": ", i);
    if (colon == std::string::npos) break;
    std::string key = params.substr(i, colon - i);
    std::size_t v = colon + 2;
    std::string value;
    if (v < params.size() && params[v] == '"') {
      std::size_t e = v + 1;
      while (e < params.size() && params[e] != '"') e += params[e] == '\\' ? 2 : 1;
      try {
        value = nlohmann::json::parse(params.substr(v, e + 1 - v)).get<std::string>();
      } catch (const std::exception&) {
        value = params.substr(v, e + 1 - v);
      }
      i = e + 1;
    } else {
      auto e = params.find(", ", v);
      value = params.substr(v, e == std::string::npos ? std::string::npos : e - v);
      i = e == std::string::npos ? params.size() : e;
    }
    if (params.compare(i, 2, ", ") == 0) i += 2;
    info.fields.emplace_back(key, value);
  }
  return info;
}

std::pair<std::string, std::string> a1111_sampler_names(const std::string& feature) {
  static const std::map<std::string, std::string> samplers = {
      {"euler", "Euler"}, {"euler_a", "Euler a"}, {"heun", "Heun"}, {"dpm2", "DPM2"}, {"dpm2_a", "DPM2 a"},
      {"lms", "LMS"}, {"ddim", "DDIM"}, {"ddpm", "DDPM"}, {"pndm", "PLMS"}, {"plms", "PLMS"},
      {"dpmpp_2m", "DPM++ 2M"}, {"dpmpp_3m", "DPM++ 3M"}, {"dpmpp_2m_sde", "DPM++ 2M SDE"},
      {"dpmpp_2s", "DPM++ 2S"}, {"dpmpp_2s_a", "DPM++ 2S a"}, {"unipc", "UniPC"}, {"deis", "DEIS"},
      {"lcm", "LCM"}, {"tcd", "TCD"}, {"ipndm", "IPNDM"}};
  static const std::pair<const char*, const char*> schedules[] = {
      {"_karras", "Karras"}, {"_exponential", "Exponential"}, {"_sgm_uniform", "SGM Uniform"},
      {"_beta", "Beta"}, {"_ays", "Align Your Steps"}, {"_trailing", "Uniform"}};
  std::string base = feature, schedule = "Automatic";
  for (const auto& [suffix, name] : schedules) {
    const std::string s = suffix;
    if (base.size() > s.size() && base.compare(base.size() - s.size(), s.size(), s) == 0) {
      base = base.substr(0, base.size() - s.size());
      schedule = name;
      break;
    }
  }
  auto it = samplers.find(base);
  return {it != samplers.end() ? it->second : feature, schedule};
}

namespace {
std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}
}  // namespace

InfoText image_infotext(const ImageParameters& p) {
  const auto [sampler, schedule] = a1111_sampler_names(p.sampler_feature);
  InfoText info;
  info.prompt = p.prompt;
  info.negative = p.negative;
  info.add("Steps", std::to_string(p.steps));
  info.add("Sampler", sampler);
  info.add("Schedule type", schedule);
  info.add("CFG scale", number_text(p.cfg));
  info.add("Seed", std::to_string(p.seed));
  info.add("Size", std::to_string(p.width) + "x" + std::to_string(p.height));
  info.add("Model hash", p.model_hash);  // empty values are not rendered
  info.add("Model", p.demo_model ? "sdxl-worker demo (random weights)" : p.model_name);
  if (p.denoising_strength) info.add("Denoising strength", number_text(*p.denoising_strength));
  if (p.guidance_rescale > 0) info.add("CFG Rescale phi", number_text(p.guidance_rescale));
  info.add("LoRAs", p.loras);
  for (const auto& [key, value] : p.extra) info.add(key, value);
  info.add("RNG", "CPU");
  info.add("Device", p.device);
  info.add("Version", std::string("sdxl-worker ") + SDXL_VERSION);
  return info;
}

std::string lora_list_text(const std::vector<LoraRequest>& loras) {
  std::string list;
  for (const auto& l : loras) {
    char w[64];
    std::snprintf(w, sizeof(w), l.unet == l.text_encoder ? ":%g" : ":%g:%g", l.text_encoder, l.unet);
    list += (list.empty() ? "" : ", ") + l.path.stem().string() + w;
  }
  return list;
}

}  // namespace sdxl::pipeline
