#include "server/job.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <tuple>

namespace sdxl::server {
namespace {

using nlohmann::json;

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a number";
  }
}

sdk::Status wrong_type(const std::string& field, const char* expected, const json& v) {
  return sdk::invalid_argument(field + ": expected " + expected + ", got " + type_name(v));
}

sdk::Status get_string(const json& v, const std::string& field, std::string& out) {
  if (!v.is_string()) return wrong_type(field, "a string", v);
  out = v.get<std::string>();
  return {};
}

sdk::Status get_int(const json& v, const std::string& field, std::int64_t& out) {
  if (v.is_number_integer()) {
    out = v.get<std::int64_t>();
    return {};
  }
  // 512.0 is accepted (JavaScript clients); 512.5 is not.
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
      out = static_cast<std::int64_t>(d);
      return {};
    }
    return sdk::invalid_argument(field + ": expected an integer, got " + v.dump());
  }
  return wrong_type(field, "an integer", v);
}

sdk::Status get_number(const json& v, const std::string& field, double& out) {
  if (!v.is_number()) return wrong_type(field, "a number", v);
  out = v.get<double>();
  if (!std::isfinite(out)) return sdk::invalid_argument(field + ": must be finite");
  return {};
}

sdk::Status in_range(const std::string& field, std::int64_t v, std::int64_t lo, std::int64_t hi) {
  if (v < lo || v > hi)
    return sdk::invalid_argument(field + ": must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (got " +
                                 std::to_string(v) + ")");
  return {};
}

std::string strip_data_url(const std::string& s) {
  const auto comma = s.find(',');
  if (s.rfind("data:", 0) == 0 && comma != std::string::npos) return s.substr(comma + 1);
  return s;
}

sdk::Status get_png(const json& v, const std::string& field, std::vector<unsigned char>& out) {
  if (v.is_null()) return {};
  std::string text;
  if (auto st = get_string(v, field, text); !st.ok()) return st;
  if (text.empty()) return {};
  auto bytes = base64_png(text, field);
  if (!bytes.ok()) return bytes.status();
  out = std::move(bytes).value();
  return {};
}

sdk::Status parse_loras(const json& v, const ServerLimits& limits, std::vector<LoraSpec>& out) {
  if (!v.is_array()) return wrong_type("loras", "an array", v);
  if (static_cast<std::int64_t>(v.size()) > limits.max_loras)
    return sdk::invalid_argument("loras: at most " + std::to_string(limits.max_loras) + " LoRAs (got " +
                                 std::to_string(v.size()) + ")");
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string where = "loras[" + std::to_string(i) + "]";
    const json& e = v[i];
    if (!e.is_object()) return wrong_type(where, "an object {name, weight}", e);
    LoraSpec l;
    for (const auto& [k, val] : e.items()) {
      if (k == "name") {
        if (auto st = get_string(val, where + ".name", l.name); !st.ok()) return st;
      } else if (k == "weight") {
        if (auto st = get_number(val, where + ".weight", l.weight); !st.ok()) return st;
        if (std::fabs(l.weight) > 10) return sdk::invalid_argument(where + ".weight: must be in [-10, 10]");
      } else {
        return sdk::invalid_argument(where + ": unknown field '" + k + "' (expected name, weight)");
      }
    }
    if (l.name.empty()) return sdk::invalid_argument(where + ".name: required");
    out.push_back(std::move(l));
  }
  return {};
}

}  // namespace

sdk::Result<JobSpec> parse_job_json(const std::string& body, const ServerLimits& limits) {
  if (body.size() > limits.max_request_bytes)
    return sdk::invalid_argument("request body: " + std::to_string(body.size()) + " bytes exceeds the limit of " +
                                 std::to_string(limits.max_request_bytes));
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {  // parse_error: the message names the byte position
    return sdk::invalid_argument(std::string("malformed JSON: ") + e.what());
  }
  return parse_job_json(j, limits);
}

sdk::Result<JobSpec> parse_job_json(const json& j, const ServerLimits& limits) {
  if (!j.is_object()) return wrong_type("request", "a JSON object", j);
  JobSpec s;
  using Field = std::function<sdk::Status(const json&)>;
  const std::map<std::string, Field> fields = {
      {"prompt", [&](const json& v) { return get_string(v, "prompt", s.prompt); }},
      {"negative", [&](const json& v) { return get_string(v, "negative", s.negative); }},
      {"width", [&](const json& v) { s.size_set = true; return get_int(v, "width", s.width); }},
      {"height", [&](const json& v) { s.size_set = true; return get_int(v, "height", s.height); }},
      {"steps", [&](const json& v) { s.steps_set = true; return get_int(v, "steps", s.steps); }},
      {"sampler", [&](const json& v) { return get_string(v, "sampler", s.sampler); }},
      {"cfg", [&](const json& v) { s.cfg_set = true; return get_number(v, "cfg", s.cfg); }},
      {"guidance_rescale", [&](const json& v) { return get_number(v, "guidance_rescale", s.guidance_rescale); }},
      {"seed", [&](const json& v) { return get_int(v, "seed", s.seed); }},
      {"batch_size", [&](const json& v) { return get_int(v, "batch_size", s.batch_size); }},
      {"loras", [&](const json& v) { return parse_loras(v, limits, s.loras); }},
      {"controlnets",
       [&](const json& v) {
         if (!v.is_array()) return wrong_type("controlnets", "an array", v);
         if (static_cast<std::int64_t>(v.size()) > limits.max_controlnets)
           return sdk::invalid_argument("controlnets: at most " + std::to_string(limits.max_controlnets) + " units");
         s.controlnets = v;
         return sdk::Status();
       }},
      {"init_image", [&](const json& v) { return get_png(v, "init_image", s.init_image); }},
      {"mask", [&](const json& v) { return get_png(v, "mask", s.mask); }},
      {"strength", [&](const json& v) { return get_number(v, "strength", s.strength); }},
      {"model", [&](const json& v) { return get_string(v, "model", s.model); }},
      {"priority", [&](const json& v) { return get_int(v, "priority", s.priority); }},
      {"client", [&](const json& v) { return get_string(v, "client", s.client); }},
      {"timeout_s", [&](const json& v) { return get_number(v, "timeout_s", s.timeout_s); }},
  };
  for (const auto& [key, value] : j.items()) {
    auto it = fields.find(key);
    if (it == fields.end()) return sdk::invalid_argument("unknown field '" + key + "'");
    if (auto st = it->second(value); !st.ok()) return st;
  }
  if (!j.contains("prompt")) return sdk::invalid_argument("prompt: required");
  if (auto st = validate_job(s, limits); !st.ok()) return st;
  return s;
}

sdk::Status validate_job(const JobSpec& s, const ServerLimits& limits) {
  if (static_cast<std::int64_t>(s.prompt.size()) > limits.max_prompt_chars)
    return sdk::invalid_argument("prompt: longer than " + std::to_string(limits.max_prompt_chars) + " characters");
  if (static_cast<std::int64_t>(s.negative.size()) > limits.max_prompt_chars)
    return sdk::invalid_argument("negative: longer than " + std::to_string(limits.max_prompt_chars) + " characters");
  for (const auto& [name, v, hi] : {std::tuple<const char*, std::int64_t, std::int64_t>{"width", s.width, limits.max_width},
                                    {"height", s.height, limits.max_height}}) {
    if (auto st = in_range(name, v, 8, hi); !st.ok()) return st;
    if (v % 8 != 0) return sdk::invalid_argument(std::string(name) + ": must be a multiple of 8 (got " + std::to_string(v) + ")");
  }
  if (s.width * s.height > limits.max_pixels)
    return sdk::invalid_argument("width x height: " + std::to_string(s.width * s.height) + " pixels exceeds the limit of " +
                                 std::to_string(limits.max_pixels));
  if (auto st = in_range("steps", s.steps, 1, limits.max_steps); !st.ok()) return st;
  if (auto st = in_range("batch_size", s.batch_size, 1, limits.max_batch); !st.ok()) return st;
  if (auto st = in_range("priority", s.priority, -limits.max_priority, limits.max_priority); !st.ok()) return st;
  if (auto st = in_range("seed", s.seed, -1, (std::int64_t{1} << 53)); !st.ok()) return st;
  if (!(s.cfg >= 0 && s.cfg <= 100)) return sdk::invalid_argument("cfg: must be in [0, 100]");
  if (!(s.guidance_rescale >= 0 && s.guidance_rescale <= 1)) return sdk::invalid_argument("guidance_rescale: must be in [0, 1]");
  if (!(s.strength > 0 && s.strength <= 1)) return sdk::invalid_argument("strength: must be in (0, 1]");
  if (!(s.timeout_s >= 0 && s.timeout_s <= limits.max_timeout_s))
    return sdk::invalid_argument("timeout_s: must be in [0, " + std::to_string(static_cast<long long>(limits.max_timeout_s)) + "]");
  if (!s.mask.empty() && s.init_image.empty()) return sdk::invalid_argument("mask: needs init_image");
  if (s.client.size() > 200) return sdk::invalid_argument("client: longer than 200 characters");
  return {};
}

json to_json(const JobSpec& s) {
  json loras = json::array();
  for (const auto& l : s.loras) loras.push_back({{"name", l.name}, {"weight", l.weight}});
  json j = {{"prompt", s.prompt},   {"negative", s.negative},   {"width", s.width},
            {"height", s.height},   {"steps", s.steps},         {"sampler", s.sampler},
            {"cfg", s.cfg},         {"guidance_rescale", s.guidance_rescale},
            {"seed", s.seed},       {"batch_size", s.batch_size}, {"loras", loras},
            {"controlnets", s.controlnets}, {"strength", s.strength}, {"model", s.model},
            {"priority", s.priority}, {"client", s.client},    {"timeout_s", s.timeout_s}};
  if (!s.init_image.empty()) j["init_image"] = base64_encode(s.init_image.data(), s.init_image.size());
  if (!s.mask.empty()) j["mask"] = base64_encode(s.mask.data(), s.mask.size());
  return j;
}

std::string base64_encode(const unsigned char* data, std::size_t size) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (std::size_t i = 0; i < size; i += 3) {
    const std::uint32_t b0 = data[i], b1 = i + 1 < size ? data[i + 1] : 0, b2 = i + 2 < size ? data[i + 2] : 0;
    const std::uint32_t v = (b0 << 16) | (b1 << 8) | b2;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < size ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < size ? kAlphabet[v & 63] : '=';
  }
  return out;
}

sdk::Result<std::vector<unsigned char>> base64_png(const std::string& text, const std::string& field) {
  auto bytes = base64_decode(strip_data_url(text), field);
  if (!bytes.ok()) return bytes.status();
  static const unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.value().size() < 8 || !std::equal(kSignature, kSignature + 8, bytes.value().begin()))
    return sdk::invalid_argument(field + ": not a PNG image");
  return bytes;
}

sdk::Result<std::vector<unsigned char>> base64_decode(const std::string& text, const std::string& what) {
  std::vector<unsigned char> out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t padding = 0, symbols = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;  // '-' and '_': the URL-safe alphabet
    else if (c == '/' || c == '_') v = 63;
    else return sdk::invalid_argument(what + ": invalid base64 character at offset " + std::to_string(i));
    if (padding) return sdk::invalid_argument(what + ": base64 data after '=' padding");
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    ++symbols;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((acc >> bits) & 0xff));
    }
  }
  if (symbols % 4 == 1 || padding > 2) return sdk::invalid_argument(what + ": truncated base64 data");
  return out;
}

}  // namespace sdxl::server
