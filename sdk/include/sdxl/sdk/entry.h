#pragma once
/// @file entry.h
/// The one exported C symbol of a plugin library, and a macro that defines it.
/// @since 1.0
///
/// The host resolves `sdxl_plugin_entry` and reads the plain C struct it returns before touching
/// any C++ type: struct size, ABI major/minor, build tag and plugin id are checked first, and only
/// then is `create` called. The symbol name never changes between ABI versions, so a library of
/// another major is recognised and refused with a reason instead of failing to resolve.
///
/// Thread rules: `create`/`destroy` are called once each, from the host's loading thread.
/// Ownership: the returned struct and its strings are static in the library, which the host never
/// unloads while running. The object from `create` is released with `destroy`.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>

#include "sdxl/sdk/version.h"

extern "C" {

/// Version 1 of the entry struct. New fields are only ever appended; `struct_size` tells which.
typedef struct SdxlPluginEntry {
  std::uint32_t struct_size;  ///< sizeof(SdxlPluginEntry) as the plugin was compiled
  std::uint32_t abi_major;    ///< SDXL_SDK_ABI_MAJOR of the plugin's SDK
  std::uint32_t abi_minor;    ///< SDXL_SDK_ABI_MINOR of the plugin's SDK
  const char* build_tag;      ///< SDXL_SDK_BUILD_TAG of the plugin's build
  const char* plugin_id;      ///< reverse-DNS id, equal to PluginInfo::id
  /// Creates the plugin object (an sdxl::sdk::v1::Plugin*). On failure returns null and writes a
  /// NUL-terminated reason into `error` (at most `error_size` bytes). Must not throw.
  void* (*create)(char* error, std::size_t error_size);
  /// Destroys an object returned by `create`.
  void (*destroy)(void* plugin);
} SdxlPluginEntry;

typedef const SdxlPluginEntry* (*SdxlPluginEntryFn)(void);
}

#define SDXL_PLUGIN_ENTRY_SYMBOL "sdxl_plugin_entry"

#if defined(_WIN32)
#define SDXL_PLUGIN_EXPORT extern "C" __declspec(dllexport)
#else
#define SDXL_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))
#endif

/// Defines the entry symbol for `PluginClass` (default-constructible, derived from
/// sdxl::sdk::Plugin) with reverse-DNS id `plugin_id`. Exceptions thrown by the constructor are
/// caught and reported as a creation failure.
#define SDXL_DEFINE_PLUGIN(PluginClass, plugin_id_literal)                                     \
  static void* sdxl_plugin_create_(char* error, std::size_t error_size) {                      \
    try {                                                                                       \
      return static_cast<::sdxl::sdk::Plugin*>(std::make_unique<PluginClass>().release());     \
    } catch (const std::exception& e) {                                                         \
      std::snprintf(error, error_size, "%s", e.what());                                         \
    } catch (...) {                                                                             \
      std::snprintf(error, error_size, "unknown exception in plugin constructor");              \
    }                                                                                           \
    return nullptr;                                                                             \
  }                                                                                             \
  static void sdxl_plugin_destroy_(void* p) { delete static_cast<::sdxl::sdk::Plugin*>(p); }    \
  SDXL_PLUGIN_EXPORT const SdxlPluginEntry* sdxl_plugin_entry(void) {                           \
    static const SdxlPluginEntry entry = {sizeof(SdxlPluginEntry), SDXL_SDK_ABI_MAJOR,          \
                                          SDXL_SDK_ABI_MINOR,      SDXL_SDK_BUILD_TAG,          \
                                          plugin_id_literal,       &sdxl_plugin_create_,        \
                                          &sdxl_plugin_destroy_};                               \
    return &entry;                                                                              \
  }
