#include "kl_config.h"

#include <nlohmann/json.hpp>

#include <set>

namespace sdxl::vae_kl {
namespace {

using nlohmann::json;

sdk::Status bad_key(const std::string& source, const std::string& key, const std::string& why) {
  return sdk::invalid_argument(source + ": config key '" + key + "' " + why);
}

// Reads an optional integer key; null or absent keeps `out`.
sdk::Status read_int(const json& j, const std::string& source, const char* key, std::int64_t* out,
                     std::int64_t min_value) {
  if (!j.contains(key) || j[key].is_null()) return sdk::Status::Ok();
  if (!j[key].is_number_integer()) return bad_key(source, key, "must be an integer");
  const auto v = j[key].get<std::int64_t>();
  if (v < min_value) return bad_key(source, key, "must be >= " + std::to_string(min_value));
  *out = v;
  return sdk::Status::Ok();
}

sdk::Status read_number(const json& j, const std::string& source, const char* key, double* out) {
  if (!j.contains(key) || j[key].is_null()) return sdk::Status::Ok();
  if (!j[key].is_number()) return bad_key(source, key, "must be a number");
  *out = j[key].get<double>();
  return sdk::Status::Ok();
}

sdk::Status read_bool(const json& j, const std::string& source, const char* key, bool* out) {
  if (!j.contains(key) || j[key].is_null()) return sdk::Status::Ok();
  if (!j[key].is_boolean()) return bad_key(source, key, "must be true or false");
  *out = j[key].get<bool>();
  return sdk::Status::Ok();
}

// Distinct integers i in names "<prefix>{i}.…".
std::set<std::int64_t> indices_after(const std::map<std::string, at::Tensor>& w, const std::string& prefix) {
  std::set<std::int64_t> out;
  for (const auto& [name, t] : w) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const auto dot = name.find('.', prefix.size());
    const auto digits = name.substr(prefix.size(), dot - prefix.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    out.insert(std::stoll(digits));
  }
  return out;
}

}  // namespace

sdk::Result<KlConfig> parse_kl_config(const std::string& json_text, const std::string& source) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return sdk::invalid_argument(source + ": config.json is not a JSON object");
  }
  KlConfig c;
  c.from_config_json = true;
  if (j.contains("block_out_channels")) {
    const auto& b = j["block_out_channels"];
    if (!b.is_array() || b.empty()) return bad_key(source, "block_out_channels", "must be a non-empty list");
    c.block_out_channels.clear();
    for (const auto& v : b) {
      if (!v.is_number_integer() || v.get<std::int64_t>() <= 0) {
        return bad_key(source, "block_out_channels", "must hold positive integers");
      }
      c.block_out_channels.push_back(v.get<std::int64_t>());
    }
  }
  for (const char* key : {"down_block_types", "up_block_types"}) {
    if (j.contains(key) && j[key].is_array() && j[key].size() != c.block_out_channels.size()) {
      return bad_key(source, key, "has " + std::to_string(j[key].size()) + " entries but block_out_channels has " +
                                      std::to_string(c.block_out_channels.size()));
    }
  }
  if (j.contains("act_fn") && j["act_fn"] != "silu") return bad_key(source, "act_fn", "must be \"silu\"");
  sdk::Status st;
  if (!(st = read_int(j, source, "in_channels", &c.in_channels, 1)).ok()) return st;
  if (!(st = read_int(j, source, "out_channels", &c.out_channels, 1)).ok()) return st;
  if (!(st = read_int(j, source, "latent_channels", &c.latent_channels, 1)).ok()) return st;
  if (!(st = read_int(j, source, "layers_per_block", &c.layers_per_block, 1)).ok()) return st;
  if (!(st = read_int(j, source, "norm_num_groups", &c.norm_num_groups, 1)).ok()) return st;
  if (!(st = read_number(j, source, "scaling_factor", &c.scaling_factor)).ok()) return st;
  if (!(st = read_number(j, source, "shift_factor", &c.shift_factor)).ok()) return st;
  if (!(st = read_bool(j, source, "force_upcast", &c.force_upcast)).ok()) return st;
  if (!(st = read_bool(j, source, "mid_block_add_attention", &c.mid_block_add_attention)).ok()) return st;
  if (!(st = read_bool(j, source, "use_quant_conv", &c.use_quant_conv)).ok()) return st;
  if (!(st = read_bool(j, source, "use_post_quant_conv", &c.use_post_quant_conv)).ok()) return st;
  if (c.scaling_factor == 0.0) return bad_key(source, "scaling_factor", "must not be 0");
  return c;
}

sdk::Result<KlConfig> infer_kl_config(const std::map<std::string, at::Tensor>& w, const std::string& source) {
  KlConfig c;
  auto shape_of = [&](const std::string& name, std::int64_t dim) -> std::int64_t {
    auto it = w.find(name);
    if (it == w.end() || it->second.dim() <= dim) return -1;
    return it->second.size(dim);
  };
  const auto up = indices_after(w, "decoder.up_blocks.");
  if (up.empty()) {
    return sdk::not_found(source + ": no 'decoder.up_blocks.*' tensors; not an AutoencoderKL in diffusers names");
  }
  const auto blocks = static_cast<std::int64_t>(up.size());
  if (*up.rbegin() != blocks - 1) return sdk::corrupt_data(source + ": decoder.up_blocks indices are not 0.." + std::to_string(blocks - 1));
  // Up block i works at channel count block_out_channels[blocks-1-i] (diffusers reverses the list).
  c.block_out_channels.assign(static_cast<std::size_t>(blocks), 0);
  for (std::int64_t i = 0; i < blocks; ++i) {
    const auto name = "decoder.up_blocks." + std::to_string(i) + ".resnets.0.conv2.weight";
    const auto ch = shape_of(name, 0);
    if (ch <= 0) return sdk::not_found(source + ": missing tensor '" + name + "'");
    c.block_out_channels[static_cast<std::size_t>(blocks - 1 - i)] = ch;
  }
  const auto up_resnets = indices_after(w, "decoder.up_blocks.0.resnets.");
  c.layers_per_block = static_cast<std::int64_t>(up_resnets.size()) - 1;
  if (c.layers_per_block < 1) return sdk::corrupt_data(source + ": decoder.up_blocks.0 has fewer than 2 resnets");
  c.latent_channels = shape_of("decoder.conv_in.weight", 1);
  if (c.latent_channels <= 0) return sdk::not_found(source + ": missing tensor 'decoder.conv_in.weight'");
  c.out_channels = shape_of("decoder.conv_out.weight", 0);
  if (c.out_channels <= 0) return sdk::not_found(source + ": missing tensor 'decoder.conv_out.weight'");
  if (auto in = shape_of("encoder.conv_in.weight", 1); in > 0) c.in_channels = in;
  c.mid_block_add_attention = w.count("decoder.mid_block.attentions.0.to_q.weight") != 0;
  c.use_quant_conv = w.count("quant_conv.weight") != 0;
  c.use_post_quant_conv = w.count("post_quant_conv.weight") != 0;
  return c;
}

}  // namespace sdxl::vae_kl
