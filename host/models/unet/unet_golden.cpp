#include "models/unet/unet_golden.h"

#include <ATen/ATen.h>

#include <sstream>

#include "golden/case_files.h"
#include "golden/compare.h"
#include "golden/manifest_tolerance.h"
#include "models/loader/checkpoint.h"
#include "models/unet/unet_model.h"

namespace sdxl::models {
namespace {

std::string join_key(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const nlohmann::json& tensor_table(const nlohmann::json& manifest) {
  static const nlohmann::json empty = nlohmann::json::object();
  auto it = manifest.find("tensors");
  return it != manifest.end() && it->is_object() ? *it : empty;
}

// Shared pattern rules (golden/manifest_tolerance.h); the fallback is this case type's README tolerance.
void tolerance_for(const nlohmann::json& manifest, const std::string& name, double* atol, double* rtol) {
  const auto t = golden::manifest_tolerance(manifest, name, {2e-4, 1e-4, false});
  *atol = t.atol;
  *rtol = t.rtol;
}

}  // namespace

std::vector<std::string> unet_case_prefixes(const nlohmann::json& manifest) {
  std::vector<std::string> out;
  for (const auto& [name, info] : tensor_table(manifest).items()) {
    if (info.value("role", std::string()) != "input") continue;
    if (name == "sample") out.push_back("");
    else if (ends_with(name, ".sample")) out.push_back(name.substr(0, name.size() - 7));
  }
  return out;
}

std::set<std::string> unet_case_inputs(const nlohmann::json& manifest) {
  return golden::manifest_tensors_with_role(manifest, "input");
}

sdk::Result<golden::TensorList> replay_unet_case(const golden::GoldenCase& c, const golden::GoldenOptions& opts) {
  if (!c.tensors) return sdk::invalid_argument(c.file.string() + ": the unet case needs its tensors");
  if (opts.model.empty()) return sdk::invalid_argument("the unet case needs --model (diffusers folder or single file)");
  loader::LoadOptions lo;
  lo.model_config = opts.model_config;
  lo.components = {"unet"};
  auto ck = loader::load_checkpoint(opts.model, lo);
  if (!ck.ok()) return ck.status();
  auto weights = ck->component("unet");
  if (!weights.ok()) return weights.status();
  auto config = UNetConfig::from_diffusers_json((*weights)->config, (*weights)->config_source);
  if (!config.ok()) return config.status();
  auto unet = UNet2DConditionModel::load((*weights)->tensors, *config, (*weights)->source, opts.dtype, opts.device);
  if (!unet.ok()) return unet.status();
  if (opts.channels_last) (*unet)->use_channels_last();
  if (opts.fused_qkv && (*unet)->stack_self_attention_projections() != (*unet)->self_attentions())
    return sdk::internal_error("the unet case: not every self-attention's q/k/v weights could be stacked");

  const auto& table = tensor_table(c.manifest);
  const auto inputs = unet_case_inputs(c.manifest);
  golden::TensorList produced;
  for (const auto& prefix : unet_case_prefixes(c.manifest)) {
    auto input = [&](const std::string& name) -> sdk::Result<at::Tensor> {
      const std::string key = join_key(prefix, name);
      if (!inputs.count(key)) return sdk::not_found(c.file.string() + ": no input tensor '" + key + "'");
      return c.tensors->tensor(key);
    };
    UNetInputs in;
    for (auto [name, slot] : {std::pair<const char*, at::Tensor*>{"sample", &in.sample},
                              {"timestep", &in.timestep},
                              {"encoder_hidden_states", &in.encoder_hidden_states},
                              {"text_embeds", &in.text_embeds},
                              {"time_ids", &in.time_ids}}) {
      auto t = input(name);
      if (!t.ok()) return t.status();
      *slot = t.value().to(opts.device);  // the model casts to its dtype; sinusoids stay float32
    }
    // Optional ControlNet residual inputs (the controlnet case's names or diffusers' argument names).
    for (const char* stem : {"down_residual.", "down_block_additional_residuals."}) {
      for (int i = 0; inputs.count(join_key(prefix, stem + std::to_string(i))); ++i) {
        auto t = input(stem + std::to_string(i));
        if (!t.ok()) return t.status();
        in.down_residuals.push_back(t.value().to(opts.device, opts.dtype));
      }
    }
    for (const char* name : {"mid_residual", "mid_block_additional_residual"}) {
      if (!inputs.count(join_key(prefix, name))) continue;
      auto t = input(name);
      if (!t.ok()) return t.status();
      in.mid_residual = t.value().to(opts.device, opts.dtype);
    }
    // Intermediates are produced only under the names the manifest lists for this sub-case.
    const std::string debug_prefix = join_key(prefix, "debug.");
    golden::TensorList debug_out;
    DebugSink sink = [&](const std::string& name, const at::Tensor& v) {
      const std::string key = debug_prefix + name;
      if (table.contains(key)) debug_out.emplace_back(key, v.to(at::kFloat).cpu().contiguous());
    };
    auto eps = (*unet)->forward(in, &sink);
    if (!eps.ok()) return sdk::Status(eps.status().code(), join_key(prefix, "eps") + ": " + eps.status().message());
    produced.emplace_back(join_key(prefix, "eps"), eps->to(at::kFloat).cpu().contiguous());
    for (auto& d : debug_out) produced.push_back(std::move(d));
  }
  if (produced.empty()) return sdk::invalid_argument(c.file.string() + ": no sub-case (no input tensor named *.sample)");
  return produced;
}

golden::CompareReport compare_unet_case(const golden::GoldenCase& full, const golden::TensorList& produced) {
  golden::CompareReport report;
  if (!full.tensors) {
    report.summary = "no expected tensors";
    return report;
  }
  std::map<std::string, at::Tensor> got(produced.begin(), produced.end());
  golden::WorstTracker worst;
  std::ostringstream problems;
  std::size_t checked = 0;
  for (const auto& [name, info] : tensor_table(full.manifest).items()) {
    const std::string role = info.value("role", std::string());
    if (role != "output" && role != "intermediate") continue;
    auto it = got.find(name);
    if (it == got.end()) {
      if (role == "output") problems << "missing output " << name << "; ";
      continue;
    }
    auto expected = full.tensors->tensor(name);
    if (!expected.ok()) {
      problems << expected.status().message() << "; ";
      continue;
    }
    double atol = 0, rtol = 0;
    tolerance_for(full.manifest, name, &atol, &rtol);
    const golden::Deviation d = golden::compare_tensors(it->second, expected.value(), atol, rtol);
    ++checked;
    if (!d.ok) problems << golden::describe(name, d) << "; ";
    worst.add(name, d);
  }
  const std::string issues = problems.str();
  report.passed = issues.empty() && checked > 0;
  std::ostringstream s;
  s << (report.passed ? "ok" : "FAILED") << ": " << checked << " tensors compared";
  if (!worst.name.empty()) s << ", worst " << golden::describe(worst.name, worst.dev);
  if (!issues.empty()) s << "; " << issues;
  report.summary = s.str();
  return report;
}

}  // namespace sdxl::models
