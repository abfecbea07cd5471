#include "models/clip/text_encoders_golden.h"

#include <ATen/ATen.h>

#include <map>
#include <regex>
#include <sstream>

#include "golden/case_files.h"
#include "golden/compare.h"
#include "golden/manifest_tolerance.h"

namespace sdxl::models::clip {
namespace {

struct SubCase {
  std::string prefix;                  // "" or "prompt." (with the dot)
  std::map<int, std::string> id_names;  // K -> tensor name of ids<K>
};

const std::regex kIdsName(R"(^(.*\.)?ids(\d+)$)");
const std::regex kEncoderOutput(R"(^te(\d+)\.(penultimate|last_hidden_state|hidden_states|pooled)$)");

std::map<std::string, SubCase> discover_sub_cases(const nlohmann::json& manifest) {
  std::map<std::string, SubCase> subs;
  if (!manifest.contains("tensors") || !manifest["tensors"].is_object()) return subs;
  for (const auto& [name, info] : manifest["tensors"].items()) {
    std::smatch m;
    if (!info.is_object() || info.value("role", "") != "input" || !std::regex_match(name, m, kIdsName)) continue;
    SubCase& s = subs[m[1].str()];
    s.prefix = m[1].str();
    s.id_names[std::stoi(m[2].str())] = name;
  }
  return subs;
}

// The sub-case an output belongs to (longest matching prefix) and the rest of its name.
const SubCase* owner_of(const std::map<std::string, SubCase>& subs, const std::string& name, std::string* rest) {
  const SubCase* best = nullptr;
  for (const auto& [prefix, s] : subs) {
    if (name.compare(0, prefix.size(), prefix) == 0 && (!best || prefix.size() > best->prefix.size())) best = &s;
  }
  if (best) *rest = name.substr(best->prefix.size());
  return best;
}

bool producible(const std::string& rest) {
  return rest == "prompt_embeds" || rest == "pooled" || rest == "pooled_prompt_embeds" ||
         std::regex_match(rest, kEncoderOutput);
}

std::vector<std::string> wanted_outputs(const nlohmann::json& manifest) {
  std::vector<std::string> out;
  if (!manifest.contains("tensors") || !manifest["tensors"].is_object()) return out;
  for (const auto& [name, info] : manifest["tensors"].items()) {
    if (!info.is_object()) continue;
    const std::string role = info.value("role", "");
    if (role == "output" || role == "intermediate") out.push_back(name);
  }
  return out;
}

// Shared pattern rules (golden/manifest_tolerance.h); the fallback is this case type's README tolerance.
void tolerance_for(const nlohmann::json& manifest, const std::string& name, double* atol, double* rtol) {
  const auto t = golden::manifest_tolerance(manifest, name, {1e-4, 1e-4, false});
  *atol = t.atol;
  *rtol = t.rtol;
}

}  // namespace

std::set<std::string> text_case_inputs(const nlohmann::json& manifest) {
  return golden::manifest_tensors_with_role(manifest, "input");
}

bool is_text_encoder_case(const nlohmann::json& manifest) {
  auto subs = discover_sub_cases(manifest);
  if (subs.empty()) return false;
  std::vector<std::string> outputs = wanted_outputs(manifest);
  for (const auto& name : outputs) {
    std::string rest;
    if (!owner_of(subs, name, &rest) || !producible(rest)) return false;
  }
  return !outputs.empty();
}

sdk::Result<golden::TensorList> replay_text_encoders_case(const golden::GoldenCase& c,
                                                          const SdxlTextEncoders& encoders) {
  if (!c.tensors) return sdk::invalid_argument(c.file.string() + ": text encoder case has no tensors");
  auto subs = discover_sub_cases(c.manifest);
  if (subs.empty()) return sdk::invalid_argument(c.file.string() + ": manifest lists no [PREFIX.]ids<K> input");
  const ClipTextEncoder* by_index[3] = {nullptr, &encoders.te1(), &encoders.te2()};

  golden::TensorList produced;
  std::map<std::string, ClipTextOutput> runs;  // prefix + K -> encoder output
  auto run = [&](const SubCase& s, int k) -> sdk::Result<const ClipTextOutput*> {
    const std::string key = s.prefix + std::to_string(k);
    if (auto it = runs.find(key); it != runs.end()) return &it->second;
    if (k < 1 || k > 2 || !s.id_names.count(k))
      return sdk::invalid_argument(c.file.string() + ": no input " + s.prefix + "ids" + std::to_string(k) +
                                   " for text encoder " + std::to_string(k));
    auto ids = c.tensors->tensor(s.id_names.at(k));
    if (!ids.ok()) return ids.status();
    ClipForwardOptions o;
    o.keep_hidden_states = true;
    auto out = by_index[k]->forward(ids.value(), o);
    if (!out.ok()) return sdk::Status(out.status().code(), s.id_names.at(k) + ": " + out.status().message());
    return &runs.emplace(key, std::move(out).value()).first->second;
  };

  for (const std::string& name : wanted_outputs(c.manifest)) {
    std::string rest;
    const SubCase* s = owner_of(subs, name, &rest);
    if (!s || !producible(rest)) return sdk::unsupported(c.file.string() + ": cannot produce tensor " + name);
    at::Tensor t;
    std::smatch m;
    if (std::regex_match(rest, m, kEncoderOutput)) {
      auto o = run(*s, std::stoi(m[1].str()));
      if (!o.ok()) return o.status();
      const std::string what = m[2].str();
      if (what == "penultimate") t = (*o)->penultimate;
      else if (what == "last_hidden_state") t = (*o)->last_hidden_state;
      else if (what == "pooled") t = (*o)->pooled;
      else t = at::stack((*o)->hidden_states, 0);  // [L+1, B, S, W]
      if (!t.defined()) return sdk::unsupported(c.file.string() + ": encoder has no output for " + name);
    } else if (rest == "prompt_embeds") {
      std::vector<at::Tensor> parts;
      for (const auto& [k, ids_name] : s->id_names) {
        auto o = run(*s, k);
        if (!o.ok()) return o.status();
        parts.push_back((*o)->penultimate);
      }
      t = at::cat(parts, -1);
    } else {  // pooled / pooled_prompt_embeds: the encoder with a projection (SDXL: encoder 2)
      for (const auto& [k, ids_name] : s->id_names) {
        if (k < 1 || k > 2 || by_index[k]->config().projection_dim == 0) continue;
        auto o = run(*s, k);
        if (!o.ok()) return o.status();
        t = (*o)->pooled;
      }
      if (!t.defined()) return sdk::unsupported(c.file.string() + ": no encoder with a projection for " + name);
    }
    produced.emplace_back(name, t.to(at::kCPU, at::kFloat).contiguous());
  }
  return produced;
}

sdk::Result<golden::TensorList> replay_text_encoders_case(const golden::GoldenCase& c,
                                                          const golden::GoldenOptions& opts) {
  if (opts.model.empty()) return sdk::invalid_argument("text encoder case needs --model (diffusers folder or single file)");
  auto enc = SdxlTextEncoders::load(opts.model, opts.model_config,
                                    at::TensorOptions().dtype(opts.dtype).device(opts.device));
  if (!enc.ok()) return enc.status();
  return replay_text_encoders_case(c, enc.value());
}

golden::CompareReport compare_tensor_case(const golden::GoldenCase& full, const golden::TensorList& produced) {
  golden::CompareReport report;
  std::map<std::string, at::Tensor> got(produced.begin(), produced.end());
  std::ostringstream missing;
  golden::WorstTracker worst;
  int checked = 0;
  const nlohmann::json listed = full.manifest.value("tensors", nlohmann::json::object());
  for (const auto& [name, info] : listed.items()) {
    if (!info.is_object()) continue;
    const std::string role = info.value("role", "");
    if (role != "output" && !(role == "intermediate" && got.count(name))) continue;
    auto it = got.find(name);
    auto expected = full.tensors ? full.tensors->tensor(name) : sdk::Result<at::Tensor>(sdk::not_found(name));
    if (it == got.end() || !expected.ok()) {
      missing << (it == got.end() ? "missing output " : "no expected values for ") << name << "; ";
      continue;
    }
    double atol, rtol;
    tolerance_for(full.manifest, name, &atol, &rtol);
    worst.add(name, golden::compare_tensors(it->second, expected.value(), atol, rtol));
    ++checked;
  }
  report.passed = missing.str().empty() && !worst.any_failed && checked > 0;
  std::ostringstream s;
  s << checked << " tensors compared";
  if (!worst.name.empty()) s << ", worst " << golden::describe(worst.name, worst.dev);
  if (!missing.str().empty()) s << "; " << missing.str();
  report.summary = s.str();
  return report;
}

}  // namespace sdxl::models::clip
