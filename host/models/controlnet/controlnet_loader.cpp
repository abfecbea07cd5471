#include "models/controlnet/controlnet_loader.h"
#include "util/json_file.h"

#include <algorithm>
#include <fstream>
#include <set>

#include "io/safetensors.h"
#include "models/controlnet/controlnet_config.h"
#include "models/loader/key_mapping.h"

namespace sdxl::models {
namespace fs = std::filesystem;
namespace {

const std::string kControlPrefix = "control_model.";

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

bool parse_index(const std::string& s, int* out) {
  if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  *out = std::stoi(s);
  return true;
}


sdk::Status not_a_controlnet(const std::string& file, const std::string& why) {
  return sdk::invalid_argument(file + ": not a ControlNet (" + why + ")");
}

// The ControlNet-only parts of a cldm file -> diffusers names; empty when the name is not one.
//   input_hint_block.{0, 2, .., 2n}: conv_in, blocks.{0..n-2}, conv_out (odd indices are SiLUs)
//   zero_convs.{i}.0 -> controlnet_down_blocks.{i};  middle_block_out.0 -> controlnet_mid_block
std::string map_cldm_extra(const std::string& name, int last_hint) {
  const auto dot = name.rfind('.');
  if (dot == std::string::npos) return {};
  const std::string module = name.substr(0, dot), param = name.substr(dot + 1);
  int i = 0;
  if (starts_with(module, "input_hint_block.") && parse_index(module.substr(17), &i) && i % 2 == 0) {
    if (i == 0) return "controlnet_cond_embedding.conv_in." + param;
    if (i == last_hint) return "controlnet_cond_embedding.conv_out." + param;
    return "controlnet_cond_embedding.blocks." + std::to_string(i / 2 - 1) + "." + param;
  }
  if (starts_with(module, "zero_convs.") && module.size() > 13 && module.compare(module.size() - 2, 2, ".0") == 0 &&
      parse_index(module.substr(11, module.size() - 13), &i))
    return "controlnet_down_blocks." + std::to_string(i) + "." + param;
  if (module == "middle_block_out.0") return "controlnet_mid_block." + param;
  return {};
}

// Highest even index of input_hint_block.N.weight (its conv_out).
int last_hint_index(const std::vector<io::TensorEntry>& entries, const std::string& prefix) {
  int last = -1;
  for (const auto& e : entries) {
    if (!starts_with(e.name, prefix + "input_hint_block.")) continue;
    const std::string rest = e.name.substr(prefix.size() + 17);
    int i = 0;
    if (parse_index(rest.substr(0, rest.find('.')), &i)) last = std::max(last, i);
  }
  return last;
}

// cldm names (prefix already known) -> diffusers names. The UNet-encoder part goes through the
// checkpoint loader's SGM mapping (UNet-only files use the SGM names without a prefix).
sdk::Status map_cldm(const io::SafetensorsFile& f, const std::string& prefix, ControlNetWeights* out) {
  const int last_hint = last_hint_index(f.entries(), prefix);
  std::vector<io::TensorEntry> unet_part;
  std::map<std::string, std::string> renamed_unet_part;  // stripped name -> file name
  for (const auto& e : f.entries()) {
    if (!starts_with(e.name, prefix))
      return sdk::invalid_argument(f.path() + ": tensor '" + e.name + "' lacks the '" + prefix + "' prefix of the others");
    const std::string name = e.name.substr(prefix.size());
    const std::string key = map_cldm_extra(name, last_hint);
    if (!key.empty()) {
      auto t = f.tensor(e.name);
      if (!t.ok()) return t.status();
      out->tensors.emplace(key, t.value());
      continue;
    }
    io::TensorEntry copy = e;
    copy.name = name;
    renamed_unet_part[name] = e.name;
    unet_part.push_back(std::move(copy));
  }
  auto mapping = loader::map_single_file(unet_part, f.path());
  if (!mapping.ok()) return mapping.status();
  for (const auto& m : mapping->tensors) {
    if (m.component != "unet" || m.how != loader::Transform::identity)
      return sdk::invalid_argument(f.path() + ": tensor '" + m.source + "' is not part of a ControlNet");
    auto t = f.tensor(renamed_unet_part.at(m.source));
    if (!t.ok()) return t.status();
    if (!out->tensors.emplace(m.key, t.value()).second)
      return sdk::invalid_argument(f.path() + ": two tensors map to '" + m.key + "'");
  }
  return sdk::Status::Ok();
}

// Config for a single file: <config_dir>/config.json or <config_dir>/controlnet/config.json, else inferred.
sdk::Status single_file_config(const fs::path& config_dir, ControlNetWeights* w) {
  if (!config_dir.empty()) {
    for (const fs::path& p : {config_dir / "config.json", config_dir / "controlnet" / "config.json"}) {
      if (!fs::exists(p)) continue;
      auto cfg = util::read_json_file(p);
      if (!cfg.ok()) return cfg.status();
      w->config = std::move(cfg.value());
      w->config_source = p.string();
      return sdk::Status::Ok();
    }
    return sdk::not_found(config_dir.string() + ": no config.json or controlnet/config.json (ControlNet config for " +
                          w->source + ")");
  }
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (const auto& [k, t] : w->tensors) shapes[k] = t.sizes().vec();
  auto inferred = ControlNetConfig::infer_json(shapes, w->source);
  if (!inferred.ok()) return inferred.status();
  w->config = std::move(inferred.value());
  w->config_source = "inferred from the weights of " + w->source + " (SDXL conventions: 64-channel heads)";
  return sdk::Status::Ok();
}

sdk::Result<ControlNetWeights> read_single_file(const fs::path& path, const fs::path& config_dir) {
  auto opened = io::SafetensorsFile::open(path);
  if (!opened.ok()) return opened.status();
  const io::SafetensorsFile& f = *opened.value();
  ControlNetWeights w;
  w.source = path.string();
  for (const auto& e : f.entries()) w.file_bytes += e.end - e.begin;
  const bool prefixed = f.contains(kControlPrefix + "input_hint_block.0.weight") ||
                        f.contains(kControlPrefix + "controlnet_cond_embedding.conv_in.weight");
  const std::string prefix = prefixed ? kControlPrefix : std::string();
  if (f.contains(prefix + "input_hint_block.0.weight")) {
    w.layout = ControlNetLayout::cldm_single_file;
    auto st = map_cldm(f, prefix, &w);
    if (!st.ok()) return st;
  } else if (f.contains(prefix + "controlnet_cond_embedding.conv_in.weight")) {
    w.layout = ControlNetLayout::diffusers_single_file;
    for (const auto& e : f.entries()) {
      if (!starts_with(e.name, prefix))
        return sdk::invalid_argument(path.string() + ": tensor '" + e.name + "' lacks the '" + prefix + "' prefix");
      auto t = f.tensor(e.name);
      if (!t.ok()) return t.status();
      w.tensors.emplace(e.name.substr(prefix.size()), t.value());
    }
  } else {
    return not_a_controlnet(path.string(),
                            "neither input_hint_block.0.weight nor controlnet_cond_embedding.conv_in.weight is present");
  }
  auto st = single_file_config(config_dir, &w);
  if (!st.ok()) return st;
  return w;
}

sdk::Result<ControlNetWeights> read_folder(const fs::path& dir) {
  ControlNetWeights w;
  w.layout = ControlNetLayout::diffusers_folder;
  fs::path file;
  for (const char* name : {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"})
    if (fs::exists(dir / name)) {
      file = dir / name;
      break;
    }
  if (file.empty())
    return sdk::not_found(dir.string() + ": no diffusion_pytorch_model[.fp16].safetensors (ControlNet folder)" +
                          (fs::exists(dir / "diffusion_pytorch_model.bin") ? "; .bin pickles are not supported" : ""));
  auto cfg = util::read_json_file(dir / "config.json");
  if (!cfg.ok()) return cfg.status();
  const std::string cls = cfg->value("_class_name", std::string());
  if (cls != "ControlNetModel") return not_a_controlnet(dir.string(), "config.json _class_name is '" + cls + "'");
  auto opened = io::SafetensorsFile::open(file);
  if (!opened.ok()) return opened.status();
  for (const auto& e : opened.value()->entries()) {
    auto t = opened.value()->tensor(e.name);
    if (!t.ok()) return t.status();
    w.tensors.emplace(e.name, t.value());
    w.file_bytes += e.end - e.begin;
  }
  w.config = std::move(cfg.value());
  w.config_source = (dir / "config.json").string();
  w.source = file.string();
  return w;
}

}  // namespace

const char* to_string(ControlNetLayout layout) {
  switch (layout) {
    case ControlNetLayout::diffusers_folder: return "diffusers folder";
    case ControlNetLayout::cldm_single_file: return "cldm single file";
    case ControlNetLayout::diffusers_single_file: return "single file with diffusers names";
  }
  return "?";
}

sdk::Result<ControlNetWeights> read_controlnet_weights(const fs::path& path, const fs::path& config_dir) {
  return sdk::guard("read_controlnet_weights", [&]() -> sdk::Result<ControlNetWeights> {
    std::error_code ec;
    if (!fs::exists(path, ec)) return sdk::not_found(path.string() + ": no such ControlNet file or folder");
    if (!config_dir.empty() && !fs::is_directory(config_dir, ec))
      return sdk::not_found(config_dir.string() + ": ControlNet config folder does not exist");
    if (fs::is_directory(path, ec)) return read_folder(path);
    return read_single_file(path, config_dir);
  });
}

}  // namespace sdxl::models
