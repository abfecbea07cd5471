#include "plugins/option_values.h"

#include <cmath>
#include <sstream>

namespace sdxl::plugins {

bool has_option(const std::vector<sdk::OptionSpec>& schema, const std::string& key) {
  return find_option(schema, key) != nullptr;
}

const sdk::OptionSpec* find_option(const std::vector<sdk::OptionSpec>& schema, const std::string& key) {
  for (const auto& s : schema)
    if (s.key == key) return &s;
  return nullptr;
}

std::string check_value(const sdk::OptionSpec& spec, const sdk::OptionValue& value) {
  double num = 0;
  switch (spec.type) {
    case sdk::OptionType::boolean:
      if (!std::holds_alternative<bool>(value)) return "expected a boolean";
      return {};
    case sdk::OptionType::integer:
      if (!std::holds_alternative<std::int64_t>(value)) return "expected an integer";
      num = static_cast<double>(std::get<std::int64_t>(value));
      break;
    case sdk::OptionType::number:
      if (auto i = std::get_if<std::int64_t>(&value)) num = static_cast<double>(*i);
      else if (auto d = std::get_if<double>(&value)) num = *d;
      else return "expected a number";
      if (!std::isfinite(num)) return "expected a finite number";
      break;
    case sdk::OptionType::string: {
      if (!std::holds_alternative<std::string>(value)) return "expected a string";
      if (spec.choices.empty()) return {};
      const auto& s = std::get<std::string>(value);
      std::string list;
      for (const auto& c : spec.choices) {
        if (c == s) return {};
        list += (list.empty() ? "" : ", ") + c;
      }
      return "\"" + s + "\" is not one of: " + list;
    }
  }
  const auto fmt = format_number;
  if (spec.min && num < *spec.min) return "value " + fmt(num) + " is below the minimum " + fmt(*spec.min);
  if (spec.max && num > *spec.max) return "value " + fmt(num) + " is above the maximum " + fmt(*spec.max);
  return {};
}

sdk::Result<sdk::Options> apply_overrides(const std::vector<sdk::OptionSpec>& schema, const sdk::Options& base,
                                          const sdk::Options& overrides, const std::string& feature) {
  sdk::Options out = base;
  for (const auto& [key, value] : overrides.all()) {
    const auto* spec = find_option(schema, key);
    if (!spec) {
      std::string keys;
      for (const auto& s : schema) keys += (keys.empty() ? "" : ", ") + s.key;
      return sdk::invalid_argument(feature + ": unknown option '" + key + "' (options: " +
                                   (keys.empty() ? "none" : keys) + ")");
    }
    sdk::OptionValue v = value;
    if (spec->type == sdk::OptionType::number)
      if (auto i = std::get_if<std::int64_t>(&value)) v = static_cast<double>(*i);
    if (auto problem = check_value(*spec, v); !problem.empty())
      return sdk::invalid_argument(feature + ": option '" + key + "': " + problem);
    out.set(key, v);
  }
  return out;
}

std::string format_number(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

std::string toml_location(const toml::node& node, const std::string& file) {
  const auto& src = node.source();
  return file + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
}

sdk::Result<sdk::OptionValue> option_from_toml(const sdk::OptionSpec& spec, const toml::node& node,
                                               const std::string& where) {
  sdk::OptionValue v;
  if (auto b = node.as_boolean()) v = b->get();
  else if (auto i = node.as_integer()) v = static_cast<std::int64_t>(i->get());
  else if (auto d = node.as_floating_point()) v = d->get();
  else if (auto s = node.as_string()) v = s->get();
  else return sdk::invalid_argument(where + ": option '" + spec.key + "' must be a " + to_string(spec.type));
  if (spec.type == sdk::OptionType::number)
    if (auto i = std::get_if<std::int64_t>(&v)) v = static_cast<double>(*i);
  if (auto problem = check_value(spec, v); !problem.empty())
    return sdk::invalid_argument(where + ": option '" + spec.key + "': " + problem);
  return v;
}

}  // namespace sdxl::plugins
