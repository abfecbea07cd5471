#include "config/config.h"

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "config/schema.h"

namespace sdxl::config {
namespace {

std::string where(const toml::node& n, const std::string& file) {
  const auto& s = n.source();
  return file + ":" + std::to_string(s.begin.line) + ":" + std::to_string(s.begin.column);
}

sdk::Status check_value(const ConfigKey& key, const toml::node& node, const std::string& file) {
  const std::string name = "[" + key.section + "] " + key.name;
  auto bad = [&](const std::string& what) { return sdk::invalid_argument(where(node, file) + ": " + name + ": " + what); };
  switch (key.type) {
    case KeyType::boolean:
      if (!node.is_boolean()) return bad("expected a boolean");
      break;
    case KeyType::integer:
      if (!node.is_integer()) return bad("expected an integer");
      break;
    case KeyType::number:
      if (!node.is_number()) return bad("expected a number");
      break;
    case KeyType::string: {
      if (!node.is_string()) return bad("expected a string");
      if (!key.choices.empty()) {
        const auto& v = node.as_string()->get();
        std::string list;
        bool ok = false;
        for (const auto& c : key.choices) {
          ok = ok || c == v;
          list += (list.empty() ? "" : ", ") + c;
        }
        if (!ok) return bad("\"" + v + "\" is not one of: " + list);
      }
      break;
    }
    case KeyType::string_list: {
      const auto* arr = node.as_array();
      if (!arr) return bad("expected a list of strings");
      for (const auto& e : *arr)
        if (!e.is_string()) return sdk::invalid_argument(where(e, file) + ": " + name + ": list entries must be strings");
      break;
    }
  }
  return {};
}

std::vector<std::string> strings(const toml::node& n) {
  std::vector<std::string> out;
  for (const auto& e : *n.as_array()) out.push_back(e.as_string()->get());
  return out;
}

void assign(Config& c, const ConfigKey& key, const toml::node& n) {
  const std::string id = key.section + "." + key.name;
  if (id == "plugins.paths") c.plugin_paths = strings(n);
  else if (id == "plugins.enable") c.plugin_enable = strings(n);
  else if (id == "plugins.disable") c.plugin_disable = strings(n);
  else if (id == "log.level") c.log_level = n.as_string()->get();
  else if (id == "log.format") c.log_format = n.as_string()->get();
  else if (id == "model.path") c.model_path = n.as_string()->get();
  else if (id == "model.model_config") c.model_config = n.as_string()->get();
  else if (id == "model.clip_vocab") c.clip_vocab = n.as_string()->get();
  else if (id == "model.vae") c.vae_path = n.as_string()->get();
  else if (id == "model.device") c.device = n.as_string()->get();
  else if (id == "lora.folders") c.lora_folders = strings(n);
  else if (id == "lora.mode") c.lora_mode = n.as_string()->get();
  else if (id == "controlnet.folders") c.controlnet_folders = strings(n);
  else if (id == "memory.cpu") c.memory_cpu = n.as_string()->get();
  else if (id == "memory.gpu") c.memory_gpu = n.as_string()->get();
  else if (id == "memory.mode") c.memory_mode = n.as_string()->get();
  else if (id == "memory.vae_decode") c.memory_vae_decode = n.as_string()->get();
  else if (id == "cpu.threads") c.cpu_threads = n.value<std::int64_t>().value_or(0);
  else if (id == "output.png_compression") c.png_compression = n.value<std::int64_t>().value_or(1);
  else if (id == "gpu.cuda_graphs") c.gpu_cuda_graphs = n.value<bool>().value_or(false);
  else if (id == "gpu.channels_last") c.gpu_channels_last = n.value<bool>().value_or(true);
  else if (id == "gpu.fused_qkv") c.gpu_fused_qkv = n.value<bool>().value_or(false);
  else if (id == "gpu.cudnn_benchmark") c.gpu_cudnn_benchmark = n.value<bool>().value_or(false);
  else if (id == "gpu.staged_upload") c.gpu_staged_upload = n.value<bool>().value_or(true);
  else if (id == "gpu.attention") c.gpu_attention = n.as_string()->get();
  else if (id == "model.dtype") c.dtype = n.as_string()->get();
  else if (key.section == "generate" && n.is_string()) c.generate_strings[key.name] = n.as_string()->get();
  else if (key.section == "generate" && n.is_number()) c.generate_numbers[key.name] = n.value<double>().value_or(0.0);
}

}  // namespace

Config default_config() { return Config{}; }

sdk::Result<Config> load_config(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return sdk::not_found(path + ": configuration file not found");
  auto root_ptr = std::make_shared<toml::table>();
  auto& root = *root_ptr;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& s = e.source();
    return sdk::invalid_argument(path + ":" + std::to_string(s.begin.line) + ":" + std::to_string(s.begin.column) +
                                 ": " + std::string(e.description()));
  }
  Config c;
  c.file = path;
  for (const auto& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    const auto* table = section_node.as_table();
    bool known_section = false;
    for (const auto& k : config_keys()) known_section = known_section || k.section == section;
    if (!known_section) return sdk::invalid_argument(where(section_node, path) + ": unknown section [" + section + "]");
    if (!table) return sdk::invalid_argument(where(section_node, path) + ": [" + section + "] must be a table");
    for (const auto& [key, node] : *table) {
      const std::string name(key.str());
      if (section == "generate" && name == "loras") {
        if (!node.is_array())
          return sdk::invalid_argument(where(node, path) + ": [generate] loras must be a list of \"name:weight\" strings "
                                       "or { path = …, weight = … } tables");
        continue;
      }
      if (section == "generate" && name == "controlnets") {  // units, checked by pipeline::controls_from_config
        if (!node.is_array())
          return sdk::invalid_argument(where(node, path) + ": [generate] controlnets must be a list of "
                                       "{ model = …, image = … } tables");
        continue;
      }
      if (is_open_table(section, name)) {
        if (!node.is_table())
          return sdk::invalid_argument(where(node, path) + ": [" + section + "] " + name + " must be a table");
        continue;
      }
      const ConfigKey* spec = find_key(section, name);
      if (!spec) {
        std::string list;
        for (const auto& k : config_keys())
          if (k.section == section) list += (list.empty() ? "" : ", ") + k.name;
        return sdk::invalid_argument(where(node, path) + ": unknown key '" + name + "' in [" + section +
                                     "] (known: " + list + ")");
      }
      if (auto st = check_value(*spec, node, path); !st.ok()) return st;
      assign(c, *spec, node);
    }
  }
  c.document = root_ptr;
  return c;
}

const toml::array* Config::generate_loras() const {
  return document ? document->at_path("generate.loras").as_array() : nullptr;
}

const toml::table& Config::plugin_options() const {
  static const toml::table empty;
  if (!document) return empty;
  const auto* t = document->at_path("plugins.options").as_table();
  return t ? *t : empty;
}

std::filesystem::path config_path(const Config& c, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_absolute()) return p;
  const auto base = c.file.empty() ? std::filesystem::current_path() : std::filesystem::absolute(c.file).parent_path();
  return base / p;
}

std::vector<std::filesystem::path> config_paths(const Config& c, const std::vector<std::string>& paths) {
  std::vector<std::filesystem::path> out;
  for (const auto& p : paths) out.push_back(config_path(c, p));
  return out;
}

std::string locate_config(const std::string& cli_path) {
  if (!cli_path.empty()) return cli_path;
  if (const char* env = std::getenv("SDXL_CONFIG"); env && *env) return env;
  std::error_code ec;
  if (std::filesystem::is_regular_file("config/sdxl.toml", ec)) return "config/sdxl.toml";
  return {};
}

std::string dump_defaults() {
  std::ostringstream os;
  os << "# sdxl-worker configuration: every key with its default.\n"
     << "# Written by `sdxl config dump`; check a file with `sdxl config check FILE`.\n";
  std::string section;
  for (const auto& k : config_keys()) {
    if (k.section != section) {
      section = k.section;
      os << "\n[" << section << "]\n";
    }
    std::istringstream desc(k.description);
    for (std::string line; std::getline(desc, line);) os << "# " << line << "\n";
    if (!k.choices.empty()) {
      os << "# One of:";
      for (const auto& c : k.choices) os << " " << c;
      os << "\n";
    }
    os << k.name << " = " << k.default_toml << "\n";
  }
  os << "\n# Plugin options: one table per plugin id, optionally one sub-table per feature.\n"
     << "# `sdxl plugins ID` lists a plugin's options and defaults.\n"
     << "# [plugins.options.\"org.sdxl.schedulers.kdiffusion\"]\n"
     << "# [plugins.options.\"org.sdxl.schedulers.kdiffusion\".euler_a]\n"
     << "\n# LoRAs applied to every job, e.g. in [generate]:\n"
     << "# loras = [\"pixel_art:0.8\", { path = \"/loras/style.safetensors\", unet = 0.8, text_encoder = 0.3 }]\n"
     << "\n# ControlNet units applied to every job, e.g. in [generate] (docs/controlnet.md):\n"
     << "# controlnets = [{ model = \"/cn/canny-sdxl\", image = \"edges.png\", type = \"canny\", scale = 0.8 }]\n";
  return os.str();
}

}  // namespace sdxl::config
