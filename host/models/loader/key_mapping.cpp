#include "models/loader/key_mapping.h"

#include <algorithm>
#include <map>
#include <set>

namespace sdxl::models::loader {
namespace {

const std::string kUNet = "model.diffusion_model.";
const std::string kVae = "first_stage_model.";
const std::string kEmbedders = "conditioner.embedders.";

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    auto dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < parts.size(); ++i) out += (i > from ? "." : "") + parts[i];
  return out;
}

bool to_index(const std::string& s, int* out) {
  if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  *out = std::stoi(s);
  return true;
}

// Replaces the first matching prefix of `rest` using `table`; false when none matches.
bool rename_prefix(const std::string& rest, const std::vector<std::pair<std::string, std::string>>& table,
                   std::string* out) {
  for (const auto& [from, to] : table) {
    if (starts_with(rest, from + ".")) {
      *out = to + rest.substr(from.size());
      return true;
    }
  }
  return false;
}

// SGM ResBlock -> diffusers ResnetBlock2D.
bool unet_resnet(const std::string& rest, std::string* out) {
  static const std::vector<std::pair<std::string, std::string>> t = {
      {"in_layers.0", "norm1"}, {"in_layers.2", "conv1"},   {"emb_layers.1", "time_emb_proj"},
      {"out_layers.0", "norm2"}, {"out_layers.3", "conv2"}, {"skip_connection", "conv_shortcut"}};
  return rename_prefix(rest, t, out);
}

// Inside a Transformer2D the names agree in both layouts; only check the first component.
bool unet_transformer(const std::string& rest, std::string* out) {
  static const std::set<std::string> ok = {"norm", "proj_in", "proj_out", "transformer_blocks"};
  if (!ok.count(split(rest).front())) return false;
  *out = rest;
  return true;
}

// UNet block layout parameters read from the names (see inference_rules in sdxl_full_layouts.json).
struct UNetLayout {
  int per_level = 3;  // L + 1: resnets per level in input_blocks numbering (2 resnets + downsampler)
};

UNetLayout unet_layout(const std::vector<io::TensorEntry>& entries, const std::string& prefix) {
  int first_down = -1, max_input = 0;
  for (const auto& e : entries) {
    if (!starts_with(e.name, prefix + "input_blocks.")) continue;
    auto p = split(e.name.substr(prefix.size()));
    int n = 0;
    if (p.size() < 3 || !to_index(p[1], &n)) continue;
    max_input = std::max(max_input, n);
    if (p[2] == "0" && p.size() > 3 && p[3] == "op" && (first_down < 0 || n < first_down)) first_down = n;
  }
  UNetLayout l;
  l.per_level = first_down > 0 ? first_down : max_input + 1;
  return l;
}

// Maps the part of a UNet name after the prefix; empty result = unknown.
std::string map_unet(const std::string& rest, const UNetLayout& lay) {
  static const std::vector<std::pair<std::string, std::string>> top = {
      {"time_embed.0", "time_embedding.linear_1"}, {"time_embed.2", "time_embedding.linear_2"},
      {"label_emb.0.0", "add_embedding.linear_1"}, {"label_emb.0.2", "add_embedding.linear_2"},
      {"input_blocks.0.0", "conv_in"},             {"out.0", "conv_norm_out"},
      {"out.2", "conv_out"}};
  std::string out;
  if (rename_prefix(rest, top, &out)) return out;
  auto p = split(rest);
  int n = 0, s = 0;
  std::string inner;
  if (p[0] == "middle_block") {  // middle_block.{0,1,2}.<module>
    if (p.size() < 3 || !to_index(p[1], &s)) return {};
    const std::string tail = join(p, 2);
    if ((s == 0 || s == 2) && unet_resnet(tail, &inner)) return "mid_block.resnets." + std::to_string(s / 2) + "." + inner;
    if (s == 1 && unet_transformer(tail, &inner)) return "mid_block.attentions.0." + inner;
    return {};
  }
  if (p.size() < 4 || !to_index(p[1], &n) || !to_index(p[2], &s)) return {};
  const std::string tail = join(p, 3);
  const int per = lay.per_level;
  if (p[0] == "input_blocks" && n > 0) {
    if (s == 0 && p[3] == "op") {
      if (n % per != 0) return {};
      return "down_blocks." + std::to_string(n / per - 1) + ".downsamplers.0.conv." + join(p, 4);
    }
    const int level = (n - 1) / per, j = (n - 1) % per;
    if (j == per - 1) return {};
    const std::string block = "down_blocks." + std::to_string(level);
    if (s == 0 && unet_resnet(tail, &inner)) return block + ".resnets." + std::to_string(j) + "." + inner;
    if (s == 1 && unet_transformer(tail, &inner)) return block + ".attentions." + std::to_string(j) + "." + inner;
    return {};
  }
  if (p[0] == "output_blocks") {
    const std::string block = "up_blocks." + std::to_string(n / per);
    const int j = n % per;
    if (s == 0 && unet_resnet(tail, &inner)) return block + ".resnets." + std::to_string(j) + "." + inner;
    // The upsampler sits after the transformer (sub-index 2) or, in levels without one, at 1.
    if (s >= 1 && p[3] == "conv" && j == per - 1) return block + ".upsamplers.0.conv." + join(p, 4);
    if (s == 1 && unet_transformer(tail, &inner)) return block + ".attentions." + std::to_string(j) + "." + inner;
  }
  return {};
}

struct VaeMapped {
  std::string key;
  bool conv1x1 = false;  // attention projection stored as a 1x1 conv
};

VaeMapped map_vae(const std::string& rest, int decoder_levels) {
  static const std::vector<std::pair<std::string, std::string>> resnet = {
      {"norm1", "norm1"}, {"conv1", "conv1"}, {"norm2", "norm2"}, {"conv2", "conv2"}, {"nin_shortcut", "conv_shortcut"}};
  static const std::vector<std::pair<std::string, std::string>> attn = {
      {"norm", "group_norm"}, {"q", "to_q"}, {"k", "to_k"}, {"v", "to_v"}, {"proj_out", "to_out.0"}};
  static const std::set<std::string> plain = {"quant_conv", "post_quant_conv"};
  auto p = split(rest);
  std::string inner;
  if (p.size() == 2 && plain.count(p[0])) return {rest};
  if (p.size() < 3 || (p[0] != "encoder" && p[0] != "decoder")) return {};
  const std::string side = p[0];
  if (p.size() == 3 && (p[1] == "conv_in" || p[1] == "conv_out")) return {rest};
  if (p.size() == 3 && p[1] == "norm_out") return {side + ".conv_norm_out." + p[2]};
  if (p[1] == "mid" && p.size() >= 4) {
    const std::string tail = join(p, 3);
    if ((p[2] == "block_1" || p[2] == "block_2") && rename_prefix(tail, resnet, &inner))
      return {side + ".mid_block.resnets." + (p[2] == "block_1" ? "0." : "1.") + inner};
    if (p[2] == "attn_1" && rename_prefix(tail, attn, &inner))
      return {side + ".mid_block.attentions.0." + inner, p[3] != "norm" && p.back() == "weight"};
    return {};
  }
  int i = 0, j = 0;
  if (p.size() < 5 || !to_index(p[2], &i)) return {};
  const bool enc = side == "encoder";
  if ((enc && p[1] != "down") || (!enc && p[1] != "up")) return {};
  // Decoder levels are numbered in reverse in the single file: up.{N-1-i} = up_blocks.i.
  const int level = enc ? i : decoder_levels - 1 - i;
  if (level < 0) return {};
  const std::string block = side + (enc ? ".down_blocks." : ".up_blocks.") + std::to_string(level);
  if (p[3] == "block" && p.size() >= 6 && to_index(p[4], &j) && rename_prefix(join(p, 5), resnet, &inner))
    return {block + ".resnets." + std::to_string(j) + "." + inner};
  if ((p[3] == (enc ? "downsample" : "upsample")) && p[4] == "conv" && p.size() == 6)
    return {block + (enc ? ".downsamplers.0.conv." : ".upsamplers.0.conv.") + p[5]};
  return {};
}

// OpenCLIP text tower -> transformers CLIPTextModelWithProjection names. Returns the targets.
std::vector<MappedTensor> map_openclip(const std::string& rest) {
  auto one = [](std::string key, Transform how = Transform::identity) {
    MappedTensor m;
    m.key = std::move(key);
    m.how = how;
    return std::vector<MappedTensor>{m};
  };
  static const std::vector<std::pair<std::string, std::string>> layer = {
      {"ln_1", "layer_norm1"}, {"ln_2", "layer_norm2"}, {"attn.out_proj", "self_attn.out_proj"},
      {"mlp.c_fc", "mlp.fc1"}, {"mlp.c_proj", "mlp.fc2"}};
  if (rest == "token_embedding.weight") return one("text_model.embeddings.token_embedding.weight");
  if (rest == "positional_embedding") return one("text_model.embeddings.position_embedding.weight");
  if (rest == "text_projection") return one("text_projection.weight", Transform::transpose);
  if (rest == "ln_final.weight" || rest == "ln_final.bias")
    return one("text_model.final_layer_norm." + split(rest).back());
  auto p = split(rest);
  int i = 0;
  if (p.size() < 5 || p[0] != "transformer" || p[1] != "resblocks" || !to_index(p[2], &i)) return {};
  const std::string base = "text_model.encoder.layers." + std::to_string(i) + ".";
  const std::string tail = join(p, 3);
  if (tail == "attn.in_proj_weight" || tail == "attn.in_proj_bias") {
    const std::string what = tail == "attn.in_proj_weight" ? "weight" : "bias";
    std::vector<MappedTensor> out;
    const char* names[3] = {"q_proj", "k_proj", "v_proj"};
    for (int part = 0; part < 3; ++part) {
      MappedTensor m;
      m.key = base + "self_attn." + names[part] + "." + what;
      m.how = Transform::qkv_rows;
      m.part = part;
      out.push_back(m);
    }
    return out;
  }
  std::string inner;
  if (rename_prefix(tail, layer, &inner)) return one(base + inner);
  return {};
}

int decoder_levels(const std::vector<io::TensorEntry>& entries, const std::string& vae_prefix) {
  std::set<int> seen;
  const std::string pre = vae_prefix + "decoder.up.";
  for (const auto& e : entries) {
    if (!starts_with(e.name, pre)) continue;
    int i = 0;
    if (to_index(split(e.name.substr(pre.size())).front(), &i)) seen.insert(i);
  }
  return static_cast<int>(seen.size());
}

}  // namespace

const char* to_string(Transform t) {
  switch (t) {
    case Transform::identity: return "identity";
    case Transform::qkv_rows: return "qkv_rows";
    case Transform::transpose: return "transpose";
    case Transform::linear_to_conv1x1: return "linear_to_conv1x1";
  }
  return "?";
}

bool is_known_extra(const std::string& name) {
  static const std::set<std::string> exact = {
      "denoiser.sigmas", "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
      "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
      "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
      "posterior_mean_coef1", "posterior_mean_coef2", "lvlb_weights", "logvar", "v_pred", "ztsnr"};
  if (exact.count(name) || starts_with(name, "model_ema.") || starts_with(name, "edm_")) return true;
  // VAE training checkpoints keep their LPIPS network and discriminator under loss.*.
  if (starts_with(name, "loss.")) return true;
  if (starts_with(name, kEmbedders)) {
    const auto p = split(name);
    // conditioner.embedders.N.transformer.text_model.embeddings.position_ids / ...model.logit_scale
    if (p.back() == "position_ids" || (p.size() == 5 && p[4] == "logit_scale")) return true;
  }
  return false;
}

sdk::Result<KeyMapping> map_single_file(const std::vector<io::TensorEntry>& entries, const std::string& file) {
  KeyMapping result;
  const bool has_prefixed_unet = std::any_of(entries.begin(), entries.end(),
                                             [](const io::TensorEntry& e) { return starts_with(e.name, kUNet); });
  // UNet-only files (ComfyUI "diffusion_models") carry the SGM names without any prefix.
  const std::string unet_prefix = has_prefixed_unet ? kUNet : std::string();
  // A lone diffusers weights file (unet/diffusion_pytorch_model.safetensors, vae/...) passed as a
  // single file: its names are already diffusers names.
  auto has = [&](const std::string& n) {
    return std::any_of(entries.begin(), entries.end(), [&](const io::TensorEntry& e) { return e.name == n; });
  };
  auto has_prefix = [&](const std::string& p) {
    return std::any_of(entries.begin(), entries.end(), [&](const io::TensorEntry& e) { return starts_with(e.name, p); });
  };
  const char* diffusers_component = nullptr;
  if (!has_prefixed_unet && has("conv_in.weight") && has("time_embedding.linear_1.weight")) diffusers_component = "unet";
  // A lone VAE file: diffusers names (vae/diffusion_pytorch_model.safetensors) or the original
  // names without first_stage_model. (Stability's sdxl_vae.safetensors, the fp16-fix VAE's
  // A1111 file).
  const bool lone_vae = !has_prefixed_unet && !has_prefix(kVae) && has("decoder.conv_in.weight");
  if (lone_vae && (has_prefix("decoder.up_blocks.") || has_prefix("encoder.down_blocks."))) diffusers_component = "vae";
  const std::string vae_prefix = lone_vae && !diffusers_component ? std::string() : kVae;
  const UNetLayout layout = unet_layout(entries, unet_prefix);
  const int vae_levels = decoder_levels(entries, vae_prefix);
  std::map<std::string, std::string> targets;  // component/key -> source, to catch duplicates

  for (const auto& e : entries) {
    std::vector<MappedTensor> mapped;
    auto unknown = [&]() {
      return sdk::invalid_argument(file + ": unknown tensor '" + e.name + "' (not part of an SDXL single-file checkpoint)");
    };
    if (is_known_extra(e.name)) {
      result.ignored.push_back(e.name);
      continue;
    }
    if (diffusers_component) {
      MappedTensor m;
      m.component = diffusers_component;
      m.key = e.name;
      mapped.push_back(m);
    } else if (starts_with(e.name, vae_prefix)) {  // "" for a lone VAE file: every name
      auto v = map_vae(e.name.substr(vae_prefix.size()), vae_levels);
      if (v.key.empty()) return unknown();
      MappedTensor m;
      m.component = "vae";
      m.key = v.key;
      m.how = (v.conv1x1 && e.shape.size() == 4) ? Transform::linear_to_conv1x1 : Transform::identity;
      mapped.push_back(m);
    } else if (starts_with(e.name, kEmbedders)) {
      const auto p = split(e.name);
      if (p.size() < 5) return unknown();
      const std::string rest = join(p, 4);
      if (p[3] == "transformer" && starts_with(rest, "text_model.")) {  // CLIP-L, transformers names
        MappedTensor m;
        m.component = "text_encoder";
        m.key = rest;
        mapped.push_back(m);
      } else if (p[3] == "model") {  // OpenCLIP bigG
        mapped = map_openclip(rest);
        for (auto& m : mapped) m.component = "text_encoder_2";
      }
      if (mapped.empty()) return unknown();
    } else if (starts_with(e.name, unet_prefix)) {
      std::string key = map_unet(e.name.substr(unet_prefix.size()), layout);
      if (key.empty()) return unknown();
      MappedTensor m;
      m.component = "unet";
      m.key = key;
      mapped.push_back(m);
    } else {
      return unknown();
    }

    for (auto& m : mapped) {
      m.source = e.name;
      m.shape = e.shape;
      switch (m.how) {
        case Transform::identity: break;
        case Transform::qkv_rows:
          if (e.shape.empty() || e.shape[0] % 3 != 0)
            return sdk::invalid_argument(file + ": tensor '" + e.name + "' has a first dimension not divisible by 3");
          m.shape[0] = e.shape[0] / 3;
          break;
        case Transform::transpose:
          if (e.shape.size() != 2) return sdk::invalid_argument(file + ": tensor '" + e.name + "' must be 2-D");
          std::swap(m.shape[0], m.shape[1]);
          break;
        case Transform::linear_to_conv1x1:
          if (e.shape[2] != 1 || e.shape[3] != 1)
            return sdk::invalid_argument(file + ": tensor '" + e.name + "' must be a 1x1 convolution weight");
          m.shape.resize(2);
          break;
      }
      const std::string target = m.component + "/" + m.key;
      auto [it, inserted] = targets.emplace(target, e.name);
      if (!inserted)
        return sdk::invalid_argument(file + ": tensors '" + it->second + "' and '" + e.name + "' both map to " + target);
      result.tensors.push_back(std::move(m));
    }
  }
  return result;
}

}  // namespace sdxl::models::loader
