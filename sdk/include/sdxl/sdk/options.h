#pragma once
/// @file options.h
/// Option schemas a plugin publishes per feature, and the validated values the host passes back.
/// @since 1.0
///
/// The host reads a plugin's TOML table, checks every key against the schema (unknown key,
/// wrong type, out of range, not one of the choices: an error with the TOML line and column)
/// and hands the factory an Options object holding a value for every key of the schema.
/// Thread rules: plain values. Ownership: values are copied.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace sdxl::sdk {
inline namespace v1 {

enum class OptionType { boolean, integer, number, string };

inline const char* to_string(OptionType t) {
  switch (t) {
    case OptionType::boolean: return "bool";
    case OptionType::integer: return "int";
    case OptionType::number: return "float";
    case OptionType::string: return "string";
  }
  return "unknown";
}

/// One option value. Integers are int64, numbers double.
using OptionValue = std::variant<bool, std::int64_t, double, std::string>;

/// What one option accepts.
struct OptionSpec {
  std::string key;          ///< snake_case, unique within the feature
  OptionType type = OptionType::number;
  OptionValue default_value = 0.0;
  std::optional<double> min;  ///< inclusive bounds for integer and number options
  std::optional<double> max;
  std::vector<std::string> choices;  ///< allowed values for string options (empty: any)
  std::string description;
  std::string since = "1.0";  ///< plugin version that introduced the option
};

/// Validated values, one per schema key (defaults filled in by the host).
class Options {
 public:
  void set(const std::string& key, OptionValue v) { values_[key] = std::move(v); }
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  const std::map<std::string, OptionValue>& all() const { return values_; }

  /// Typed getters; return `fallback` when the key is absent or of another type.
  bool get_bool(const std::string& key, bool fallback = false) const {
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    if (auto p = std::get_if<bool>(&it->second)) return *p;
    return fallback;
  }
  std::int64_t get_int(const std::string& key, std::int64_t fallback = 0) const {
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    if (auto p = std::get_if<std::int64_t>(&it->second)) return *p;
    if (auto d = std::get_if<double>(&it->second)) return static_cast<std::int64_t>(*d);
    return fallback;
  }
  double get_number(const std::string& key, double fallback = 0.0) const {
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    if (auto p = std::get_if<double>(&it->second)) return *p;
    if (auto i = std::get_if<std::int64_t>(&it->second)) return static_cast<double>(*i);
    return fallback;
  }
  std::string get_string(const std::string& key, const std::string& fallback = {}) const {
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    if (auto p = std::get_if<std::string>(&it->second)) return *p;
    return fallback;
  }

 private:
  std::map<std::string, OptionValue> values_;
};

/// Options built from a schema's defaults.
inline Options defaults_of(const std::vector<OptionSpec>& schema) {
  Options o;
  for (const auto& s : schema) o.set(s.key, s.default_value);
  return o;
}

}  // namespace v1
}  // namespace sdxl::sdk
