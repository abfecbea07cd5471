#include "plugins/loader.h"

#include "plugins/option_values.h"

#include <dlfcn.h>

#include <boost/dll/shared_library.hpp>
#include <cmath>
#include <regex>
#include <set>

namespace sdxl::plugins {

PluginHandle::~PluginHandle() {
  if (entry && plugin) entry->destroy(plugin);
}

const char* host_build_tag() { return SDXL_SDK_BUILD_TAG; }

namespace {

// The smallest entry struct we understand: everything up to and including `destroy`.
constexpr std::size_t kMinEntrySize = offsetof(SdxlPluginEntry, destroy) + sizeof(void (*)(void*));

bool valid_plugin_id(const std::string& id) {
  static const std::regex re(R"(^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$)");
  return std::regex_match(id, re);
}

std::string describe(const sdk::OptionValue& v) {
  if (auto b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (auto i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (auto d = std::get_if<double>(&v)) return format_number(*d);
  return "\"" + std::get<std::string>(v) + "\"";
}

std::string validate_option(const sdk::OptionSpec& s) {
  static const std::regex key_re(R"(^[a-z][a-z0-9_]*$)");
  if (!std::regex_match(s.key, key_re)) return "option key '" + s.key + "' is not snake_case";
  const auto& v = s.default_value;
  bool type_ok = false;
  switch (s.type) {
    case sdk::OptionType::boolean: type_ok = std::holds_alternative<bool>(v); break;
    case sdk::OptionType::integer: type_ok = std::holds_alternative<std::int64_t>(v); break;
    case sdk::OptionType::number: type_ok = std::holds_alternative<double>(v); break;
    case sdk::OptionType::string: type_ok = std::holds_alternative<std::string>(v); break;
  }
  if (!type_ok) return "option '" + s.key + "': default " + describe(v) + " is not of type " + to_string(s.type);
  if (s.min && s.max && *s.min > *s.max) return "option '" + s.key + "': min > max";
  double num = 0;
  bool numeric = false;
  if (auto i = std::get_if<std::int64_t>(&v)) num = static_cast<double>(*i), numeric = true;
  if (auto d = std::get_if<double>(&v)) num = *d, numeric = true;
  if (numeric) {
    if (!std::isfinite(num)) return "option '" + s.key + "': default is not finite";
    if ((s.min && num < *s.min) || (s.max && num > *s.max))
      return "option '" + s.key + "': default " + describe(v) + " is outside its range [" +
             (s.min ? format_number(*s.min) : "-inf") + ", " + (s.max ? format_number(*s.max) : "inf") + "]";
  }
  if (!s.choices.empty()) {
    if (s.type != sdk::OptionType::string) return "option '" + s.key + "': choices given for a non-string option";
    const auto& d = std::get<std::string>(v);
    bool found = false;
    for (const auto& c : s.choices) found = found || c == d;
    if (!found) return "option '" + s.key + "': default \"" + d + "\" is not one of its choices";
  }
  return {};
}

}  // namespace

std::string validate_plugin_info(const sdk::PluginInfo& info) {
  if (info.features.empty()) return "plugin provides no features";
  std::set<std::pair<int, std::string>> names;
  for (const auto& f : info.features) {
    if (f.name.empty()) return "a feature has an empty name";
    if (!names.insert({static_cast<int>(f.kind), f.name}).second)
      return "feature '" + f.name + "' is declared twice for kind " + to_string(f.kind);
    std::set<std::string> keys;
    for (const auto& o : f.options) {
      if (!keys.insert(o.key).second) return "feature '" + f.name + "': option '" + o.key + "' declared twice";
      if (auto problem = validate_option(o); !problem.empty())
        return "invalid option schema: feature '" + f.name + "' " + problem;
    }
  }
  return {};
}

LoadResult load_plugin_library(const std::filesystem::path& file) {
  LoadResult out;
  auto lib = std::make_shared<boost::dll::shared_library>();
  boost::dll::fs::error_code ec;
  const auto mode = static_cast<boost::dll::load_mode::type>(RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  lib->load(file, mode, ec);
  if (ec || !lib->is_loaded()) {
    const char* err = dlerror();
    out.reason = std::string("cannot load library: ") + (err ? err : ec.message());
    return out;
  }
  if (!lib->has(SDXL_PLUGIN_ENTRY_SYMBOL)) {
    out.reason = "missing entry symbol '" SDXL_PLUGIN_ENTRY_SYMBOL "' (not an sdxl plugin, or not exported)";
    return out;
  }
  auto entry_fn = lib->get<const SdxlPluginEntry*()>(SDXL_PLUGIN_ENTRY_SYMBOL);
  const SdxlPluginEntry* entry = entry_fn();
  if (!entry) {
    out.reason = "entry function returned no descriptor";
    return out;
  }
  if (entry->struct_size < kMinEntrySize) {
    out.reason = "entry struct is " + std::to_string(entry->struct_size) + " bytes, smaller than SDK v1's " +
                 std::to_string(kMinEntrySize);
    return out;
  }
  if (entry->abi_major != SDXL_SDK_ABI_MAJOR) {
    out.reason = "ABI major mismatch: plugin built for SDK " + std::to_string(entry->abi_major) + "." +
                 std::to_string(entry->abi_minor) + ", host provides " + std::to_string(SDXL_SDK_ABI_MAJOR) + "." +
                 std::to_string(SDXL_SDK_ABI_MINOR);
    return out;
  }
  if (entry->abi_minor > SDXL_SDK_ABI_MINOR) {
    out.reason = "plugin needs SDK " + std::to_string(entry->abi_major) + "." + std::to_string(entry->abi_minor) +
                 ", newer than the host's " + std::to_string(SDXL_SDK_ABI_MAJOR) + "." +
                 std::to_string(SDXL_SDK_ABI_MINOR);
    return out;
  }
  const std::string tag = entry->build_tag ? entry->build_tag : "";
  if (tag != SDXL_SDK_BUILD_TAG) {
    out.reason = "build tag mismatch: plugin '" + tag + "', host '" SDXL_SDK_BUILD_TAG "'";
    return out;
  }
  const std::string id = entry->plugin_id ? entry->plugin_id : "";
  if (!valid_plugin_id(id)) {
    out.reason = "invalid plugin id '" + id + "' (expected reverse-DNS such as org.example.my_plugin)";
    return out;
  }
  if (!entry->create || !entry->destroy) {
    out.reason = "entry has no create/destroy function";
    return out;
  }
  char error[512] = {0};
  void* raw = entry->create(error, sizeof(error));
  if (!raw) {
    out.reason = std::string("factory failed: ") + (error[0] ? error : "no reason given");
    return out;
  }
  auto handle = std::make_unique<PluginHandle>();
  handle->entry = entry;
  handle->plugin = static_cast<sdk::Plugin*>(raw);
  handle->library = lib;
  std::string problem;
  try {
    const auto& info = handle->plugin->info();
    if (info.id != id) problem = "descriptor id '" + info.id + "' differs from entry id '" + id + "'";
    else problem = validate_plugin_info(info);
  } catch (const std::exception& e) {
    problem = std::string("describing the plugin threw: ") + e.what();
  }
  if (!problem.empty()) {
    out.reason = problem;
    return out;  // handle destroys the plugin; the library stays resident (RTLD_NODELETE)
  }
  out.handle = std::move(handle);
  return out;
}

}  // namespace sdxl::plugins
