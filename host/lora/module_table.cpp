#include "lora/module_table.h"

#include <algorithm>
#include <functional>
#include <sstream>

namespace sdxl::lora {
namespace {

constexpr const char* kComponents[] = {"unet", "text_encoder", "text_encoder_2"};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

std::string join(const std::vector<std::string>& parts, std::size_t from, char sep) {
  std::string out;
  for (std::size_t i = from; i < parts.size(); ++i) {
    if (i > from) out.push_back(sep);
    out += parts[i];
  }
  return out;
}

std::string underscored(std::string s) {
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

std::optional<int> to_index(const std::string& s) {
  if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), ::isdigit)) return std::nullopt;
  return std::stoi(s);
}

// Inside a ResnetBlock2D: diffusers child name -> SGM child name.
std::optional<std::string> resnet_child(const std::vector<std::string>& t, std::size_t from) {
  if (from >= t.size()) return std::nullopt;
  static const std::map<std::string, std::string> names = {
      {"norm1", "in_layers.0"},  {"conv1", "in_layers.2"},  {"time_emb_proj", "emb_layers.1"},
      {"norm2", "out_layers.0"}, {"conv2", "out_layers.3"}, {"conv_shortcut", "skip_connection"}};
  auto it = names.find(t[from]);
  if (it == names.end()) return std::nullopt;
  std::string rest = join(t, from + 1, '.');
  return rest.empty() ? it->second : it->second + "." + rest;
}

// "<block path>.<rest>" with the SGM block path and the (possibly renamed) rest.
std::optional<std::string> block(const std::string& sgm_block, const std::vector<std::string>& t, std::size_t from,
                                 bool resnet) {
  if (resnet) {
    auto child = resnet_child(t, from);
    if (!child) return std::nullopt;
    return sgm_block + "." + *child;
  }
  std::string rest = join(t, from, '.');
  return rest.empty() ? sgm_block : sgm_block + "." + rest;
}

}  // namespace

UnetLayout infer_unet_layout(const ParamShapes& params) {
  UnetLayout layout;
  std::set<int> resnets;
  for (const auto& kv : params) {
    const auto t = split(kv.first, '.');
    if (t.size() > 4 && t[0] == "unet" && t[1] == "down_blocks" && t[2] == "0" && t[3] == "resnets")
      if (auto j = to_index(t[4])) resnets.insert(*j);
    if (t.size() > 3 && t[0] == "unet" && t[1] == "up_blocks" && t[3] == "attentions")
      if (auto i = to_index(t[2])) layout.up_blocks_with_attentions.insert(*i);
  }
  if (!resnets.empty()) layout.layers_per_block = *resnets.rbegin() + 1;
  return layout;
}

std::optional<std::string> sgm_module_path(const std::string& m, const UnetLayout& layout) {
  static const std::map<std::string, std::string> fixed = {
      {"conv_in", "input_blocks.0.0"},         {"time_embedding.linear_1", "time_embed.0"},
      {"time_embedding.linear_2", "time_embed.2"}, {"add_embedding.linear_1", "label_emb.0.0"},
      {"add_embedding.linear_2", "label_emb.0.2"}, {"conv_norm_out", "out.0"},
      {"conv_out", "out.2"}};
  if (auto it = fixed.find(m); it != fixed.end()) return it->second;
  const auto t = split(m, '.');
  const int stride = layout.layers_per_block + 1;  // resnets (+ sampler) per block level
  if (t.size() >= 4 && (t[0] == "down_blocks" || t[0] == "up_blocks")) {
    auto i = to_index(t[1]);
    auto j = to_index(t[3]);
    if (!i || !j) return std::nullopt;
    const bool down = t[0] == "down_blocks";
    const std::string io = down ? "input_blocks." : "output_blocks.";
    const int base = down ? 1 + stride * *i : stride * *i;
    if (t[2] == "resnets") return block(io + std::to_string(base + *j) + ".0", t, 4, true);
    if (t[2] == "attentions") return block(io + std::to_string(base + *j) + ".1", t, 4, false);
    if (down && t[2] == "downsamplers" && *j == 0 && t.size() >= 5 && t[4] == "conv")
      return block("input_blocks." + std::to_string(stride * (*i + 1)) + ".0.op", t, 5, false);
    if (!down && t[2] == "upsamplers" && *j == 0 && t.size() >= 5 && t[4] == "conv") {
      const int slot = layout.up_blocks_with_attentions.count(*i) ? 2 : 1;
      return block("output_blocks." + std::to_string(stride * *i + layout.layers_per_block) + "." +
                       std::to_string(slot) + ".conv",
                   t, 5, false);
    }
    return std::nullopt;
  }
  if (t.size() >= 3 && t[0] == "mid_block") {
    auto k = to_index(t[2]);
    if (!k) return std::nullopt;
    if (t[1] == "resnets" && *k <= 1) return block("middle_block." + std::to_string(2 * *k), t, 3, true);
    if (t[1] == "attentions" && *k == 0) return block("middle_block.1", t, 3, false);
  }
  return std::nullopt;
}

ModuleTable ModuleTable::from_params(const ParamShapes& params) {
  ModuleTable table;
  const UnetLayout layout = infer_unet_layout(params);
  std::map<std::string, std::set<std::size_t>> spellings;  // spelling -> modules (ambiguous if > 1)
  std::ostringstream fp;
  for (const auto& [name, shape] : params) {
    const auto dot = name.find('.');
    if (dot == std::string::npos) continue;
    const std::string component = name.substr(0, dot);
    if (std::find(std::begin(kComponents), std::end(kComponents), component) == std::end(kComponents)) continue;
    const std::string suffix = ".weight";
    if (name.size() <= dot + 1 + suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    if (shape.size() != 2 && shape.size() != 4) continue;  // Linear / Conv2d weights only
    const std::string path = name.substr(dot + 1, name.size() - dot - 1 - suffix.size());
    const std::size_t index = table.modules_.size();
    table.modules_.push_back(sdk::ModuleInfo{component + "." + path, shape});
    fp << component << "." << path;
    for (auto d : shape) fp << ":" << d;
    fp << ";";
    std::vector<std::string> names = {component + "." + path};
    if (component == "unet") {
      names.push_back("lora_unet_" + underscored(path));
      if (auto sgm = sgm_module_path(path, layout)) {
        names.push_back("lora_unet_" + underscored(*sgm));
        names.push_back("unet." + *sgm);
        names.push_back("model.diffusion_model." + *sgm);
      }
    } else if (component == "text_encoder") {
      names.push_back("lora_te1_" + underscored(path));
      names.push_back("lora_te_" + underscored(path));
    } else {
      names.push_back("lora_te2_" + underscored(path));
    }
    for (auto& n : names) spellings[n].insert(index);
  }
  for (const auto& [spelling, owners] : spellings)
    if (owners.size() == 1) table.by_spelling_.emplace(spelling, *owners.begin());
  table.fingerprint_ = std::to_string(table.modules_.size()) + "-" + std::to_string(std::hash<std::string>{}(fp.str()));
  return table;
}

std::optional<sdk::ModuleInfo> ModuleTable::resolve(std::string_view name) const {
  auto it = by_spelling_.find(name);
  if (it == by_spelling_.end()) return std::nullopt;
  return modules_[it->second];
}

}  // namespace sdxl::lora
