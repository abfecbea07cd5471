#pragma once
// Loading one plugin library and the handshake that decides whether to trust it.
//
// Order of checks (each failure is a readable reason, never a crash): the file loads; it exports
// `sdxl_plugin_entry`; the entry struct is large enough; ABI major equal; ABI minor not newer than
// the host's; build tag identical; plugin id well formed; the factory succeeds; the descriptor's id
// matches the entry's; every option schema is valid. Only after the C-level checks pass is any C++
// type touched.
//
// Libraries are opened with RTLD_NODELETE: libtorch-linked code must never be unmapped while the
// process runs (static destructors and registered kernels would dangle), so even a rejected
// library stays resident.

#include <filesystem>
#include <memory>
#include <string>

#include "sdxl/sdk/entry.h"
#include "sdxl/sdk/plugin.h"

namespace sdxl::plugins {

/// Owns a created Plugin and releases it through the library's own destroy function.
struct PluginHandle {
  const SdxlPluginEntry* entry = nullptr;
  sdk::Plugin* plugin = nullptr;
  std::shared_ptr<void> library;  ///< the Boost.DLL handle, kept for the process lifetime
  PluginHandle() = default;
  PluginHandle(const PluginHandle&) = delete;
  PluginHandle& operator=(const PluginHandle&) = delete;
  ~PluginHandle();
};

struct LoadResult {
  std::unique_ptr<PluginHandle> handle;  ///< set when accepted
  std::string reason;                    ///< set when rejected
};

/// The host's own build tag and ABI, for messages and `sdxl --version`.
const char* host_build_tag();

/// Loads `file` and runs the whole handshake.
LoadResult load_plugin_library(const std::filesystem::path& file);

/// Checks a descriptor: feature names, option schemas (types, defaults in range, choices).
/// Returns an empty string when valid, else the first problem.
std::string validate_plugin_info(const sdk::PluginInfo& info);

}  // namespace sdxl::plugins
