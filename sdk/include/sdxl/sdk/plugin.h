#pragma once
/// @file plugin.h
/// The plugin object: its descriptor (what it provides) and one factory per kind.
/// @since 1.0
///
/// A library holds exactly one Plugin. It provides features; a feature is one named thing of one
/// kind ("euler_a" scheduler, "kohya" LoRA format…) with its own option schema. A plugin
/// overrides the factories of the kinds it provides; the others answer `unsupported`.
/// New kinds are added through extension() by string id, never by editing this vtable.
///
/// Thread rules: info() and the factories may be called from any thread.
/// Ownership: the host creates the Plugin through the entry (entry.h) and destroys it through the
/// entry's destroy function. Objects returned by factories are owned by the caller.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sdxl/sdk/controlnet_type.h"
#include "sdxl/sdk/host_services.h"
#include "sdxl/sdk/lora_format.h"
#include "sdxl/sdk/options.h"
#include "sdxl/sdk/scheduler.h"
#include "sdxl/sdk/status.h"
#include "sdxl/sdk/vae_variant.h"

namespace sdxl::sdk {
inline namespace v1 {

enum class FeatureKind { scheduler, lora_format, controlnet_type, vae_variant };

/// The names used in TOML, JSON and the CLI.
inline const char* to_string(FeatureKind k) {
  switch (k) {
    case FeatureKind::scheduler: return "scheduler";
    case FeatureKind::lora_format: return "lora_format";
    case FeatureKind::controlnet_type: return "controlnet_type";
    case FeatureKind::vae_variant: return "vae_variant";
  }
  return "unknown";
}

/// Ranks (GStreamer-style): among features that answer the same name, the highest wins.
namespace rank {
constexpr int none = 0;
constexpr int marginal = 64;
constexpr int secondary = 128;
constexpr int primary = 256;
}  // namespace rank

struct FeatureInfo {
  FeatureKind kind = FeatureKind::scheduler;
  std::string name;                  ///< unique within the kind, snake_case ("dpmpp_2m_karras")
  std::vector<std::string> aliases;  ///< other names users type ("DPM++ 2M Karras")
  int rank = rank::primary;
  std::string description;
  std::vector<OptionSpec> options;
};

struct PluginInfo {
  std::string id;  ///< reverse-DNS, equal to the entry's plugin_id ("org.sdxl.schedulers.kdiffusion")
  std::string name;
  std::string version;
  std::string vendor;
  std::string license;
  std::string description;
  std::vector<FeatureInfo> features;
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual const PluginInfo& info() const = 0;

  virtual Result<std::unique_ptr<Scheduler>> create_scheduler(const std::string& feature,
                                                              const Options&, const HostServices&) {
    return unsupported("plugin " + info().id + " provides no scheduler '" + feature + "'");
  }
  virtual Result<std::unique_ptr<LoraFormat>> create_lora_format(const std::string& feature,
                                                                 const Options&, const HostServices&) {
    return unsupported("plugin " + info().id + " provides no lora_format '" + feature + "'");
  }
  virtual Result<std::unique_ptr<ControlNetType>> create_controlnet_type(const std::string& feature,
                                                                         const Options&,
                                                                         const HostServices&) {
    return unsupported("plugin " + info().id + " provides no controlnet_type '" + feature + "'");
  }
  virtual Result<std::unique_ptr<VaeVariant>> create_vae_variant(const std::string& feature,
                                                                 const Options&, const HostServices&) {
    return unsupported("plugin " + info().id + " provides no vae_variant '" + feature + "'");
  }

  /// Capability lookup by stable string id; nullptr when not supported.
  virtual void* extension(const char* /*id*/) { return nullptr; }
};

}  // namespace v1
}  // namespace sdxl::sdk
