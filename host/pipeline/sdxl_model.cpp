#include "pipeline/sdxl_model.h"

#include <ATen/Context.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>

#include "io/device_upload.h"
#include "memory/ledger.h"
#include "models/loader/checkpoint.h"
#include "pipeline/vae_file.h"
#include "util/logging.h"

namespace sdxl::pipeline {
namespace fs = std::filesystem;

const char* dtype_name(c10::ScalarType t) {
  return t == at::kHalf ? "float16" : t == at::kBFloat16 ? "bfloat16" : "float32";
}

sdk::Status resolve_device_and_dtype(const std::string& device, const std::string& dtype, const std::string& device_key,
                                     const std::string& dtype_key, ModelSpec& spec) {
  if (device != "auto" && device != "cpu" && device != "cuda")
    return sdk::invalid_argument(device_key + ": expected auto, cpu or cuda (got '" + device + "')");
  const bool cuda = at::hasCUDA();
  if (device == "cuda" && !cuda) return sdk::invalid_argument(device_key + " cuda: this build or machine has no CUDA");
  spec.device = (device == "cuda" || (device == "auto" && cuda)) ? c10::Device(c10::kCUDA) : c10::Device(c10::kCPU);
  if (dtype == "float32" || dtype == "f32") spec.dtype = at::kFloat;
  else if (dtype == "float16" || dtype == "f16") spec.dtype = at::kHalf;
  else if (dtype == "bfloat16" || dtype == "bf16") spec.dtype = at::kBFloat16;
  else if (dtype == "auto") spec.dtype = spec.device.is_cuda() ? at::kHalf : at::kFloat;
  else return sdk::invalid_argument(dtype_key + ": expected auto, float32, float16 or bfloat16 (got '" + dtype + "')");
  if (spec.device.is_cpu() && spec.dtype == at::kHalf)
    return sdk::invalid_argument(dtype_key + ": float16 on the CPU is not supported by libtorch's kernels; use float32 or bfloat16");
  return {};
}

nlohmann::json sdxl_base_scheduler_config() {
  return {{"_class_name", "EulerDiscreteScheduler"}, {"beta_end", 0.012},       {"beta_schedule", "scaled_linear"},
          {"beta_start", 0.00085},                   {"clip_sample", false},    {"interpolation_type", "linear"},
          {"num_train_timesteps", 1000},             {"prediction_type", "epsilon"}, {"sample_max_value", 1.0},
          {"set_alpha_to_one", false},               {"skip_prk_steps", true},  {"steps_offset", 1},
          {"timestep_spacing", "leading"},           {"use_karras_sigmas", false}};
}

namespace {

std::optional<nlohmann::json> read_json(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  std::ifstream in(p);
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The folder that supplies configs and tokenizers: the model itself when it is a folder, else
// --model-config.
fs::path config_folder(const ModelSpec& spec) {
  std::error_code ec;
  if (fs::is_directory(spec.path, ec)) return spec.path;
  return spec.model_config;
}

sdk::Result<tokenizer::SdxlTokenizers> load_tokenizers(const ModelSpec& spec) {
  const fs::path folder = config_folder(spec);
  std::error_code ec;
  if (!folder.empty() && (fs::is_directory(folder / "tokenizer", ec) || fs::is_directory(folder / "tokenizer_2", ec)))
    return tokenizer::SdxlTokenizers::from_diffusers_folder(folder);
  if (!spec.clip_vocab.empty()) return tokenizer::SdxlTokenizers::from_clip_merges_gz(spec.clip_vocab);
  return sdk::not_found(spec.path.string() +
                        ": a single-file checkpoint carries no tokenizer; set [model] clip_vocab to "
                        "bpe_simple_vocab_16e6.txt.gz or model_config to a diffusers folder with tokenizer/");
}

// On a GPU with [gpu] staged_upload, `tensors` on `device` through the staging buffers
// (io/device_upload.h), converted to `dtype` (nullopt: as stored); the log says how long `what`
// took, or why staging was given up, and `model.uploads[what]` keeps the figures. Otherwise
// `tensors` as they are: the networks' own .to() moves them.
sdk::Result<std::map<std::string, at::Tensor>> upload_logged(const std::map<std::string, at::Tensor>& tensors,
                                                             c10::Device device, std::optional<c10::ScalarType> dtype,
                                                             const std::string& source, const std::string& what,
                                                             SdxlModel& model) {
  if (!device.is_cuda() || !io::staged_upload_enabled()) return tensors;
  io::UploadStats stats;
  auto uploaded = io::upload_tensors(tensors, device, dtype, source, {}, &stats);
  if (!uploaded.ok()) return uploaded.status();
  model.uploads[what] = stats;
  if (!stats.fallback.empty()) util::log_warn(source + ": " + stats.fallback);
  util::log_info(what + ": " + std::to_string(stats.bytes >> 20) + " MiB to " + device.str() + " in " +
                 std::to_string(static_cast<int>(stats.seconds * 1e3)) + " ms (" +
                 (stats.staged ? std::to_string(stats.chunks) + " staging buffers)" : std::string("tensor by tensor)")));
  return uploaded;
}

// The checkpoint's components `names`, put on the device by upload_logged (on a GPU the networks'
// .to() then finds their weights in place).
sdk::Result<models::loader::Checkpoint> staged_on_device(const models::loader::Checkpoint& checkpoint,
                                                         const std::vector<std::string>& names,
                                                         c10::Device device, c10::ScalarType dtype,
                                                         SdxlModel& model) {
  models::loader::Checkpoint staged;
  staged.layout = checkpoint.layout;
  staged.path = checkpoint.path;
  for (const auto& name : names) {
    if (!checkpoint.has_component(name)) continue;
    models::loader::ComponentWeights component = checkpoint.components.at(name);
    auto uploaded = upload_logged(component.tensors, device, dtype, component.source, name, model);
    if (!uploaded.ok()) return uploaded.status();
    component.tensors = std::move(uploaded).value();
    staged.components.emplace(name, std::move(component));
  }
  return staged;
}

// An AutoencoderKL brought in from elsewhere must scale latents as the checkpoint's own VAE config
// says (SDXL's 0.13025, shift 0, when it has none): otherwise it belongs to another model family.
sdk::Status check_latent_scaling(const sdk::VaeInfo& info, const std::string& vae_source,
                                 const models::loader::Checkpoint& checkpoint) {
  double scaling = 0.13025, shift = 0.0;
  std::string expected_from = "SDXL's";
  if (checkpoint.has_component("vae")) {
    const auto& own = checkpoint.components.at("vae");
    if (own.config.contains("scaling_factor") && own.config["scaling_factor"].is_number())
      scaling = own.config["scaling_factor"].get<double>(), expected_from = own.config_source + "'s";
    if (own.config.contains("shift_factor") && own.config["shift_factor"].is_number())
      shift = own.config["shift_factor"].get<double>();
  }
  auto differs = [](double a, double b) { return std::abs(a - b) > 1e-6 * std::max(1.0, std::abs(b)); };
  if (!differs(info.scaling_factor, scaling) && !differs(info.shift_factor, shift)) return {};
  return sdk::invalid_argument(vae_source + ": VAE latents are scaled by " + std::to_string(info.scaling_factor) +
                               " (shift " + std::to_string(info.shift_factor) + ") but the model expects " +
                               expected_from + " " + std::to_string(scaling) + " (shift " + std::to_string(shift) +
                               "): a VAE of another model family");
}

// The VAE: the checkpoint's own, or the one [model] vae names. It must share the UNet's latent
// space: the same number of latent channels and, for an AutoencoderKL brought in from elsewhere,
// the scaling (and shift) the checkpoint's own VAE declares (SDXL's 0.13025 when it has none).
// TAESD is trained on UNet-space latents directly, so its factor of 1 is no mismatch. Returns the
// VAE's file bytes (memory ledger).
sdk::Result<std::uint64_t> load_vae(const models::loader::Checkpoint& checkpoint, const ModelSpec& spec,
                                    const plugins::PluginRegistry& registry, std::int64_t unet_latent_channels,
                                    const std::string& unet_source, SdxlModel& model) {
  VaeWeights w;
  if (!spec.vae_path.empty()) {
    auto own = read_vae_weights(spec.vae_path);
    if (!own.ok()) return own.status();
    w = std::move(own).value();
  } else {
    auto cw = checkpoint.component("vae");
    if (!cw.ok()) return cw.status();
    w = vae_weights_of(*cw.value(), spec.vae);
  }
  const plugins::Placement placement{spec.device, spec.dtype};  // the VAE decodes where the UNet runs
  auto vae = registry.create_vae_variant(w.feature, nullptr, &placement);
  if (!vae.ok()) return vae.status();
  // The plugin loads from device copies (as stored: it chooses its own dtype, e.g. an fp32
  // upcast); model.vae_weights keeps the mapped originals for re-creating it elsewhere
  // (vae_choice.cpp).
  auto on_device = upload_logged(w.tensors, spec.device, std::nullopt, w.source, "vae", model);
  if (!on_device.ok()) return on_device.status();
  sdk::WeightSet set{w.source, &on_device.value(), w.config_json};
  if (auto st = vae.value()->load(set); !st.ok()) return st;
  const auto info = vae.value()->info();
  if (info.latent_channels != unet_latent_channels)
    return sdk::invalid_argument(w.source + ": VAE has " + std::to_string(info.latent_channels) +
                                 " latent channels but the UNet (" + unet_source + ") predicts " +
                                 std::to_string(unet_latent_channels));
  if (!spec.vae_path.empty() && w.feature == "kl")
    if (auto st = check_latent_scaling(info, w.source, checkpoint); !st.ok()) return st;
  model.vae = std::move(vae).value();
  model.vae_feature = w.feature;
  model.vae_weights = std::move(w.tensors);
  model.vae_config_json = std::move(w.config_json);
  model.vae_source = std::move(w.source);
  if (!spec.vae_path.empty()) model.vae_name = vae_display_name(spec.vae_path);
  return w.bytes;
}

}  // namespace

sdk::Result<std::shared_ptr<SdxlModel>> SdxlModel::load(const ModelSpec& spec, const plugins::PluginRegistry& registry) {
  auto model = std::make_shared<SdxlModel>();
  model->device = spec.device;
  model->dtype = spec.dtype;
  model->name = spec.path.filename().empty() ? spec.path.parent_path().filename().string() : spec.path.stem().string();

  // Everything that does not need the weights first, so a bad setting fails fast.
  auto tok = load_tokenizers(spec);
  if (!tok.ok()) return tok.status();
  model->tokenizers = std::move(tok).value();
  const fs::path folder = config_folder(spec);
  model->scheduler_config = sdxl_base_scheduler_config();
  if (!folder.empty())
    if (auto sc = read_json(folder / "scheduler" / "scheduler_config.json")) model->scheduler_config = *sc;
  if (!folder.empty())
    if (auto mi = read_json(folder / "model_index.json"); mi && mi->contains("force_zeros_for_empty_prompt"))
      model->force_zeros_for_empty_prompt = (*mi)["force_zeros_for_empty_prompt"].get<bool>();

  models::loader::LoadOptions lo;
  lo.model_config = spec.model_config;
  auto ck = models::loader::load_checkpoint(spec.path, lo);
  if (!ck.ok()) return ck.status();
  const auto& checkpoint = ck.value();
  const auto compute = at::TensorOptions().dtype(spec.dtype).device(spec.device);

  {
    auto text_weights = staged_on_device(checkpoint, {"text_encoder", "text_encoder_2"}, spec.device, spec.dtype, *model);
    if (!text_weights.ok()) return text_weights.status();
    auto text = models::clip::SdxlTextEncoders::from_checkpoint(text_weights.value(), compute);
    if (!text.ok()) return text.status();
    model->text.emplace(std::move(text).value());
  }

  auto unet_staged = staged_on_device(checkpoint, {"unet"}, spec.device, spec.dtype, *model);
  if (!unet_staged.ok()) return unet_staged.status();
  auto unet_weights = unet_staged.value().component("unet");
  if (!unet_weights.ok()) return unet_weights.status();
  auto unet_config = models::UNetConfig::from_diffusers_json(unet_weights.value()->config, unet_weights.value()->config_source);
  if (!unet_config.ok()) return unet_config.status();
  auto unet = models::UNet2DConditionModel::load(unet_weights.value()->tensors, unet_config.value(),
                                                 unet_weights.value()->source, spec.dtype, spec.device);
  if (!unet.ok()) return unet.status();
  model->unet = unet.value();
  if (spec.device.is_cuda() && unet_channels_last_enabled()) model->unet->use_channels_last();
  if (spec.device.is_cuda() && unet_fused_qkv_enabled()) model->unet->stack_self_attention_projections();

  auto vae_bytes = load_vae(checkpoint, spec, registry, unet_config.value().out_channels,
                            unet_weights.value()->source, *model);
  if (!vae_bytes.ok()) return vae_bytes.status();

  auto& ledger = memory::process_ledger();
  ledger.record_resident(model->name + ".unet", spec.device, model->unet->resident_bytes());
  for (const auto& [component, bytes] : checkpoint.bytes_per_component())
    if (component != "unet" && component != "vae") ledger.record_resident(model->name + "." + component, spec.device, bytes);
  ledger.record_resident(model->name + ".vae", spec.device, vae_bytes.value());
  return model;
}

namespace {
std::atomic<bool> g_unet_channels_last{true};  // [gpu] channels_last's default
std::atomic<bool> g_unet_fused_qkv{false};      // [gpu] fused_qkv's default
}  // namespace

void set_unet_channels_last(bool enabled) { g_unet_channels_last = enabled; }
bool unet_channels_last_enabled() { return g_unet_channels_last; }
void set_unet_fused_qkv(bool enabled) { g_unet_fused_qkv = enabled; }
bool unet_fused_qkv_enabled() { return g_unet_fused_qkv; }

}  // namespace sdxl::pipeline
