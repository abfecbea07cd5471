#pragma once
// The plugin registry: every loaded plugin library, every feature it provides (by kind, name and
// alias, ranked), every rejected library with its reason, and the factories.
//
// Thread rules: built once at start-up (load()), then read-only; create_* may be called from any
// thread. Ownership: the registry owns the Plugin objects and keeps their libraries loaded until
// the process exits (libraries linked against libtorch must never be unloaded).

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sdxl/sdk/plugin.h"

namespace sdxl::plugins {

class LoadedLibrary;  // a Boost.DLL handle, see loader.h

/// A library that was not loaded, and why.
struct Rejection {
  std::string library;
  std::string reason;
};

/// One feature of one loaded plugin.
/// Where an object a plugin creates computes, when it is not where the registry was loaded for
/// (its HostServices): the VAE of a model loaded on CUDA must decode on CUDA in the model's dtype.
struct Placement {
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::kFloat;
};

struct FeatureEntry {
  const sdk::Plugin* plugin = nullptr;
  std::string plugin_id;
  std::string library;
  sdk::FeatureInfo info;
  sdk::Options options;  ///< schema defaults overridden by the plugin's TOML table
  sdk::HostServices services;  ///< what objects of this feature are created with (plugin's own logger)
};

/// Where to look and what to keep (from CLI, environment and TOML; see config/).
struct RegistrySettings {
  std::vector<std::filesystem::path> search_paths;  ///< in priority order
  std::vector<std::string> enable;   ///< glob patterns over plugin ids/feature names; empty = all
  std::vector<std::string> disable;  ///< glob patterns, applied after enable
};

class PluginRegistry {
 public:
  /// Services default to the process-wide memory ledger and a logger per plugin.
  PluginRegistry();
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  /// Loads every library in the search paths; failures are recorded, never fatal.
  /// `services.logger` is replaced per plugin by a logger tagged with the plugin id.
  void load(const RegistrySettings& settings, sdk::HostServices services);
  void load(const RegistrySettings& settings);
  /// Loads one library file (used by plugin-check and tests). Returns false and records a
  /// rejection when it is refused.
  bool load_library(const std::filesystem::path& file);

  /// Sets option values of one feature (already validated, see config/plugin_options.h).
  /// Returns false when the plugin or feature is not active.
  bool set_options(const std::string& plugin_id, const std::string& feature, const sdk::Options& values);

  const std::vector<Rejection>& rejected() const { return rejected_; }
  /// Plugins in load order.
  std::vector<const sdk::Plugin*> plugins() const;
  const std::string& library_of(const sdk::Plugin* p) const;
  /// Active features (after enable/disable), sorted by kind, then name.
  std::vector<const FeatureEntry*> features(sdk::FeatureKind kind) const;
  /// Finds an active feature by name or alias (case-insensitive; spaces, '+', '-' and '_'
  /// compared loosely so "DPM++ 2M Karras" finds dpmpp_2m_karras). Highest rank wins.
  const FeatureEntry* find(sdk::FeatureKind kind, const std::string& name_or_alias) const;

  sdk::Result<std::unique_ptr<sdk::Scheduler>> create_scheduler(const std::string& name,
                                                                const sdk::Options* overrides = nullptr) const;
  sdk::Result<std::unique_ptr<sdk::LoraFormat>> create_lora_format(const std::string& name,
                                                                   const sdk::Options* overrides = nullptr) const;
  sdk::Result<std::unique_ptr<sdk::ControlNetType>> create_controlnet_type(
      const std::string& name, const sdk::Options* overrides = nullptr) const;
  /// `placement`: the device and dtype to create it for (null: the registry's own services).
  sdk::Result<std::unique_ptr<sdk::VaeVariant>> create_vae_variant(const std::string& name,
                                                                   const sdk::Options* overrides = nullptr,
                                                                   const Placement* placement = nullptr) const;

  /// Names (not aliases) of active features of `kind`, for "unknown X; available: …" messages.
  std::vector<std::string> names(sdk::FeatureKind kind) const;
  const sdk::HostServices& services() const { return services_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<Rejection> rejected_;
  sdk::HostServices services_;
};



}  // namespace sdxl::plugins
