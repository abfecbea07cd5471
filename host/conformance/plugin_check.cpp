#include "conformance/plugin_check.h"

#include <ATen/ATen.h>

#include <regex>

#include "conformance/kind_checks.h"
#include "plugins/registry.h"

namespace sdxl::conformance {

int ConformanceReport::passed() const {
  int n = 0;
  for (const auto& c : checks) n += c.passed ? 1 : 0;
  return n;
}
int ConformanceReport::failed() const { return static_cast<int>(checks.size()) - passed(); }

ConformanceReport check_plugin_library(const std::filesystem::path& library) {
  ConformanceReport report;
  Checker check{report.checks};
  plugins::PluginRegistry registry;
  const bool loaded = registry.load_library(library);
  check.expect("handshake accepted", loaded, loaded ? "" : registry.rejected().back().reason);
  if (!loaded) return report;

  const sdk::Plugin* plugin = registry.plugins().front();
  const auto& info = plugin->info();
  check.expect("descriptor has name, version, vendor and license",
               !info.name.empty() && !info.version.empty() && !info.vendor.empty() && !info.license.empty(),
               "empty name/version/vendor/license");
  static const std::regex semver(R"(^\d+\.\d+\.\d+([-+].*)?$)");
  check.expect("version is semantic (MAJOR.MINOR.PATCH)", std::regex_match(info.version, semver),
               "version '" + info.version + "'");

  for (const auto& f : info.features) {
    const std::string label = std::string(to_string(f.kind)) + " " + f.name;
    check.expect(label + ": active after loading", registry.find(f.kind, f.name) != nullptr, "not found by name");
    check_aliases_resolve(check, registry, f, label);
    switch (f.kind) {
      case sdk::FeatureKind::scheduler: check_scheduler(check, registry, f, label); break;
      case sdk::FeatureKind::lora_format: check_lora_format(check, registry, f, label); break;
      case sdk::FeatureKind::controlnet_type: check_controlnet_type(check, registry, f, label); break;
      case sdk::FeatureKind::vae_variant: check_vae_variant(check, registry, f, label); break;
    }
  }
  return report;
}

}  // namespace sdxl::conformance
