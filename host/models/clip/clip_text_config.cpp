#include "models/clip/clip_text_config.h"

#include "sdxl/sdk/shape_text.h"

namespace sdxl::models::clip {
namespace {

sdk::Status expect_shape(const std::map<std::string, at::Tensor>& w, const std::string& name,
                         std::vector<std::int64_t> shape) {
  auto it = w.find(name);
  if (it == w.end()) return sdk::not_found("text encoder weights: missing tensor " + name);
  if (it->second.sizes().vec() != shape) {
    return sdk::corrupt_data("text encoder weights: " + name + " has shape " + sdk::shape_text(it->second.sizes()) +
                             ", expected " + sdk::shape_text(shape));
  }
  return sdk::Status::Ok();
}

// Reads an integer config key when present; error when present but not a positive integer.
sdk::Result<std::int64_t> config_int(const nlohmann::json* config, const char* key, std::int64_t fallback) {
  if (!config || !config->contains(key) || (*config)[key].is_null()) return fallback;
  const auto& v = (*config)[key];
  if (!v.is_number_integer() || v.get<std::int64_t>() <= 0)
    return sdk::corrupt_data(std::string("text encoder config.json: ") + key + " is not a positive integer");
  return v.get<std::int64_t>();
}

}  // namespace

sdk::Result<ClipTextConfig> ClipTextConfig::infer(const std::map<std::string, at::Tensor>& w,
                                                  const nlohmann::json* config) {
  ClipTextConfig c;
  auto tok = w.find(names::kTokenEmbedding);
  if (tok == w.end()) return sdk::not_found("text encoder weights: missing tensor " + names::kTokenEmbedding);
  if (tok->second.dim() != 2)
    return sdk::corrupt_data("text encoder weights: " + names::kTokenEmbedding + " has shape " +
                             sdk::shape_text(tok->second.sizes()) + ", expected [vocab, width]");
  c.vocab_size = tok->second.size(0);
  c.hidden = tok->second.size(1);
  auto pos = w.find(names::kPositionEmbedding);
  if (pos == w.end()) return sdk::not_found("text encoder weights: missing tensor " + names::kPositionEmbedding);
  if (pos->second.dim() != 2 || pos->second.size(1) != c.hidden)
    return sdk::corrupt_data("text encoder weights: " + names::kPositionEmbedding + " has shape " +
                             sdk::shape_text(pos->second.sizes()) + ", expected [positions, " + std::to_string(c.hidden) + "]");
  c.max_positions = pos->second.size(0);

  while (w.count(names::layer(c.layers) + "layer_norm1.weight")) ++c.layers;
  if (c.layers == 0) return sdk::not_found("text encoder weights: no " + names::layer(0) + "* tensors");
  auto fc1 = w.find(names::layer(0) + "mlp.fc1.weight");
  if (fc1 == w.end()) return sdk::not_found("text encoder weights: missing tensor " + names::layer(0) + "mlp.fc1.weight");
  c.intermediate = fc1->second.size(0);
  if (auto proj = w.find(names::kTextProjection); proj != w.end()) {
    if (proj->second.dim() != 2 || proj->second.size(1) != c.hidden)
      return sdk::corrupt_data("text encoder weights: " + names::kTextProjection + " has shape " +
                               sdk::shape_text(proj->second.sizes()) + ", expected [projection, " + std::to_string(c.hidden) + "]");
    c.projection_dim = proj->second.size(0);
  }

  // Every per-layer tensor must exist with the shape the first layer implies.
  const std::int64_t W = c.hidden, I = c.intermediate;
  for (std::int64_t i = 0; i < c.layers; ++i) {
    const std::string p = names::layer(i);
    for (const char* ln : {"layer_norm1", "layer_norm2"}) {
      for (const char* wb : {".weight", ".bias"}) {
        if (auto st = expect_shape(w, p + ln + wb, {W}); !st.ok()) return st;
      }
    }
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      if (auto st = expect_shape(w, p + "self_attn." + proj + ".weight", {W, W}); !st.ok()) return st;
      if (auto st = expect_shape(w, p + "self_attn." + proj + ".bias", {W}); !st.ok()) return st;
    }
    if (auto st = expect_shape(w, p + "mlp.fc1.weight", {I, W}); !st.ok()) return st;
    if (auto st = expect_shape(w, p + "mlp.fc1.bias", {I}); !st.ok()) return st;
    if (auto st = expect_shape(w, p + "mlp.fc2.weight", {W, I}); !st.ok()) return st;
    if (auto st = expect_shape(w, p + "mlp.fc2.bias", {W}); !st.ok()) return st;
  }
  for (const char* wb : {".weight", ".bias"}) {
    if (auto st = expect_shape(w, names::kFinalLayerNorm + wb, {W}); !st.ok()) return st;
  }

  // Config values: trusted for what shapes cannot tell, checked against shapes otherwise.
  const std::pair<const char*, std::int64_t> checked[] = {
      {"hidden_size", c.hidden}, {"num_hidden_layers", c.layers}, {"intermediate_size", c.intermediate},
      {"vocab_size", c.vocab_size}, {"max_position_embeddings", c.max_positions}};
  for (const auto& [key, value] : checked) {
    auto v = config_int(config, key, value);
    if (!v.ok()) return v.status();
    if (v.value() != value)
      return sdk::corrupt_data(std::string("text encoder config.json: ") + key + " = " + std::to_string(v.value()) +
                               " but the weights say " + std::to_string(value));
  }
  auto heads = config_int(config, "num_attention_heads", W % 64 == 0 ? W / 64 : 0);
  if (!heads.ok()) return heads.status();
  c.heads = heads.value();
  if (c.heads <= 0 || W % c.heads != 0)
    return sdk::invalid_argument("text encoder: cannot determine the attention head count for width " +
                                 std::to_string(W) + " (config.json has no num_attention_heads and width is not a "
                                 "multiple of 64, or it does not divide the width)");

  c.activation = c.projection_dim > 0 ? ClipActivation::kGelu : ClipActivation::kQuickGelu;
  if (config && config->contains("hidden_act") && !(*config)["hidden_act"].is_null()) {
    const auto& act = (*config)["hidden_act"];
    if (act == "quick_gelu") {
      c.activation = ClipActivation::kQuickGelu;
    } else if (act == "gelu") {
      c.activation = ClipActivation::kGelu;
    } else {
      return sdk::unsupported("text encoder config.json: hidden_act " + act.dump() +
                              " is not supported (quick_gelu or gelu)");
    }
  }
  if (config && config->contains("layer_norm_eps") && (*config)["layer_norm_eps"].is_number()) {
    c.layer_norm_eps = (*config)["layer_norm_eps"].get<double>();
  }
  return c;
}

}  // namespace sdxl::models::clip
