#pragma once
// Every key the worker's TOML configuration accepts: section, name, type, default and the
// comment `sdxl config dump` prints. Validation, defaults and the dumped file all come from this
// one table, so they cannot drift apart. Later subsystems add their keys here.

#include <string>
#include <vector>

namespace sdxl::config {

enum class KeyType { boolean, integer, number, string, string_list };

struct ConfigKey {
  std::string section;  ///< "plugins", "log", "model"…
  std::string name;
  KeyType type = KeyType::string;
  std::string default_toml;  ///< the default as TOML text ("\"info\"", "[]", "30")
  std::string description;
  std::vector<std::string> choices;  ///< for strings; empty = any
};

const std::vector<ConfigKey>& config_keys();
const ConfigKey* find_key(const std::string& section, const std::string& name);
const char* to_string(KeyType t);

/// Keys whose values are structured and checked elsewhere ([plugins.options], [generate] loras).
bool is_open_table(const std::string& section, const std::string& name);

}  // namespace sdxl::config
