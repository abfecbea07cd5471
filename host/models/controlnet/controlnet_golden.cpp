#include "models/controlnet/controlnet_golden.h"

#include <ATen/ATen.h>

#include "golden/case_files.h"
#include "models/controlnet/controlnet_model.h"
#include "models/loader/checkpoint.h"
#include "models/unet/unet_golden.h"
#include "models/unet/unet_model.h"

namespace sdxl::models {
namespace fs = std::filesystem;
namespace {

const nlohmann::json& tensor_table(const nlohmann::json& manifest) {
  static const nlohmann::json empty = nlohmann::json::object();
  auto it = manifest.find("tensors");
  return it != manifest.end() && it->is_object() ? *it : empty;
}

// The models folder the case ships with (cases/..).
fs::path models_dir(const golden::GoldenCase& c) {
  const fs::path dir = c.source_dir.empty() ? c.file.parent_path() : c.source_dir;
  return dir.parent_path();
}

// --model-config may name a ControlNet folder (config.json) or a pipeline folder (controlnet/, unet/).
fs::path controlnet_config_dir(const std::string& model_config) {
  if (model_config.empty()) return {};
  const fs::path d(model_config);
  return fs::exists(d / "config.json") || fs::exists(d / "controlnet" / "config.json") ? d : fs::path();
}

}  // namespace

bool is_controlnet_case(const golden::GoldenCase& c) {
  if (!c.tensors || !c.manifest.is_object()) return false;
  return c.manifest.value("case", std::string()) == "controlnet";
}

std::set<std::string> controlnet_case_inputs(const nlohmann::json& manifest) {
  return golden::manifest_tensors_with_role(manifest, "input");
}

sdk::Result<golden::TensorList> replay_controlnet_case(const golden::GoldenCase& c, const golden::GoldenOptions& opts) {
  if (!c.tensors) return sdk::invalid_argument(c.file.string() + ": the controlnet case needs its tensors");
  const auto inputs = controlnet_case_inputs(c.manifest);
  auto input = [&](const std::string& name) -> sdk::Result<at::Tensor> {
    if (!inputs.count(name)) return sdk::not_found(c.file.string() + ": no input tensor '" + name + "'");
    return c.tensors->tensor(name);
  };
  ControlNetInputs in;
  for (auto [name, slot] : {std::pair<const char*, at::Tensor*>{"sample", &in.sample},
                            {"timestep", &in.timestep},
                            {"encoder_hidden_states", &in.encoder_hidden_states},
                            {"text_embeds", &in.text_embeds},
                            {"time_ids", &in.time_ids},
                            {"controlnet_cond", &in.controlnet_cond}}) {
    auto t = input(name);
    if (!t.ok()) return t.status();
    *slot = t.value().to(opts.device);  // the networks cast to their dtype
  }
  if (inputs.count("conditioning_scale")) {
    auto s = input("conditioning_scale");
    if (!s.ok()) return s.status();
    in.conditioning_scale = s->to(at::kDouble).reshape({-1})[0].item<double>();
  } else if (c.manifest.contains("params") && c.manifest["params"].contains("conditioning_scale")) {
    in.conditioning_scale = c.manifest["params"]["conditioning_scale"].get<double>();
  }

  const fs::path cn_path = opts.controlnet.empty() ? models_dir(c) / "controlnet-tiny" : fs::path(opts.controlnet);
  auto cn = ControlNetModel::load(cn_path, controlnet_config_dir(opts.model_config), opts.dtype, opts.device);
  if (!cn.ok()) return cn.status();
  // The layouts a job on a GPU uses (pipeline/control_units.cpp), and its keys and values made
  // once: the same references within the same tolerances.
  if (opts.channels_last) (*cn)->use_channels_last();
  if (opts.fused_qkv && (*cn)->stack_self_attention_projections() != (*cn)->self_attentions())
    return sdk::internal_error("the controlnet case: not every self-attention's q/k/v weights could be stacked");
  auto kv = (*cn)->cross_attention_kv(in.encoder_hidden_states);
  if (!kv.ok()) return kv.status();
  in.context_kv = kv.value();
  at::Tensor cond_embedding;
  auto res = (*cn)->forward(in, &cond_embedding);
  if (!res.ok()) return res.status();

  golden::TensorList produced;
  for (std::size_t i = 0; i < res->down.size(); ++i)
    produced.emplace_back("down_residual." + std::to_string(i), res->down[i].to(at::kFloat).contiguous());
  produced.emplace_back("mid_residual", res->mid.to(at::kFloat).contiguous());
  if (tensor_table(c.manifest).contains("debug.cond_embedding"))
    produced.emplace_back("debug.cond_embedding", cond_embedding.to(at::kFloat).contiguous());

  // The UNet with and without the residuals (eps, eps_without_controlnet).
  const fs::path unet_path = opts.model.empty() ? models_dir(c) / "tiny-sdxl" : fs::path(opts.model);
  loader::LoadOptions lo;
  lo.components = {"unet"};
  if (!opts.model_config.empty() && fs::exists(fs::path(opts.model_config) / "unet" / "config.json"))
    lo.model_config = opts.model_config;
  auto ck = loader::load_checkpoint(unet_path, lo);
  if (!ck.ok()) return ck.status();
  auto weights = ck->component("unet");
  if (!weights.ok()) return weights.status();
  auto config = UNetConfig::from_diffusers_json((*weights)->config, (*weights)->config_source);
  if (!config.ok()) return config.status();
  auto st = (*cn)->check_compatible(*config, (*weights)->source);
  if (!st.ok()) return st;
  auto unet = UNet2DConditionModel::load((*weights)->tensors, *config, (*weights)->source, opts.dtype, opts.device);
  if (!unet.ok()) return unet.status();
  if (opts.channels_last) (*unet)->use_channels_last();
  if (opts.fused_qkv) (*unet)->stack_self_attention_projections();
  UNetInputs u{in.sample, in.timestep, in.encoder_hidden_states, in.text_embeds, in.time_ids, {}, {}};
  auto plain = (*unet)->forward(u);
  if (!plain.ok()) return plain.status();
  u.down_residuals = res->down;
  u.mid_residual = res->mid;
  auto eps = (*unet)->forward(u);
  if (!eps.ok()) return eps.status();
  produced.emplace_back("eps", eps->to(at::kFloat).contiguous());
  produced.emplace_back("eps_without_controlnet", plain->to(at::kFloat).contiguous());
  return produced;
}

golden::CompareReport compare_controlnet_case(const golden::GoldenCase& full, const golden::TensorList& produced) {
  // The UNet case's comparison is generic over the manifest's tensor table and tolerances.
  return compare_unet_case(full, produced);
}

}  // namespace sdxl::models
