#pragma once
// The worker's TOML configuration: parsed, checked against config/schema.h (unknown keys, wrong
// types and bad choices are errors with file:line:column), defaults filled in.
// Plugin option tables ([plugins.options."<plugin id>"], optionally with one sub-table per
// feature) are kept as TOML and checked against the plugins' own schemas once they are loaded
// (see plugin_options.h).

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "sdxl/sdk/status.h"

namespace sdxl::config {

struct Config {
  std::string file;  ///< where it came from; empty when only defaults
  std::vector<std::string> plugin_paths;
  std::vector<std::string> plugin_enable{"*"};
  std::vector<std::string> plugin_disable;
  std::string log_level = "info";
  std::string log_format = "text";
  std::string model_path;
  std::string model_config;
  std::string clip_vocab;
  std::string vae_path;                   ///< [model] vae: a VAE of its own (empty: the checkpoint's)
  std::string memory_cpu, memory_gpu;     ///< [memory] budgets as written
  std::string memory_vae_decode;          ///< [memory] vae_decode: cap of one VAE decode, as written
  std::string memory_mode = "resident";   ///< [memory] mode: resident | offload_idle | sequential
  std::vector<std::string> lora_folders;  ///< [lora] folders (relative to the config file)
  std::string lora_mode = "merge";        ///< [lora] mode: merge | runtime
  std::vector<std::string> controlnet_folders;  ///< [controlnet] folders (relative to the config file)
  std::int64_t cpu_threads = 0;           ///< [cpu] threads (0: libtorch's default)
  std::int64_t png_compression = 1;       ///< [output] png_compression (zlib level 0-9)
  bool gpu_cuda_graphs = false;           ///< [gpu] cuda_graphs
  bool gpu_channels_last = true;          ///< [gpu] channels_last
  bool gpu_fused_qkv = false;             ///< [gpu] fused_qkv
  bool gpu_cudnn_benchmark = false;       ///< [gpu] cudnn_benchmark
  bool gpu_staged_upload = true;          ///< [gpu] staged_upload
  std::string gpu_attention = "auto";     ///< [gpu] attention: auto | flash | cudnn | efficient | math
  std::string device = "auto";
  std::string dtype = "auto";
  /// [generate] defaults, as TOML values (read by pipeline/job_settings.h).
  std::map<std::string, std::string> generate_strings;
  std::map<std::string, double> generate_numbers;
  /// The [plugins.options] table as written (empty when absent). Points into `document`, which
  /// is kept whole because copying toml++ nodes drops their source positions.
  const toml::table& plugin_options() const;
  /// [generate] loras as written (null when absent); see pipeline::loras_from_toml.
  const toml::array* generate_loras() const;
  std::shared_ptr<const toml::table> document;
};

/// Reads and checks `path`. Errors: not_found (unreadable), invalid_argument (parse error or a
/// bad key/value), each naming file:line:column.
sdk::Result<Config> load_config(const std::string& path);

/// Defaults only (no file).
Config default_config();

/// A path from the configuration: relative ones are relative to the configuration file (to the
/// working directory when there is no file).
std::filesystem::path config_path(const Config& c, const std::string& path);
/// The same for a list of folders ([lora] folders, [controlnet] folders).
std::vector<std::filesystem::path> config_paths(const Config& c, const std::vector<std::string>& paths);

/// Which file to read: --config, else $SDXL_CONFIG, else ./config/sdxl.toml when present, else none.
std::string locate_config(const std::string& cli_path);

/// A commented TOML file with every key and its default (`sdxl config dump`).
std::string dump_defaults();

}  // namespace sdxl::config
