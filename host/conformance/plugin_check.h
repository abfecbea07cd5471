#pragma once
// The plugin conformance kit behind `sdxl plugin-check PATH.so`: generic contract tests any
// plugin library must pass — the handshake, descriptor and option-schema sanity, create/destroy
// cycles, and per-kind contracts on tiny CPU inputs (bad input gives a Status, never a crash).
// Third-party authors run it on their own libraries; ctest runs it on every in-tree plugin.

#include <filesystem>
#include <string>
#include <vector>

namespace sdxl::conformance {

struct CheckOutcome {
  std::string name;  ///< "scheduler euler_a: deterministic for a fixed seed"
  bool passed = false;
  std::string detail;  ///< why it failed
};

struct ConformanceReport {
  std::vector<CheckOutcome> checks;
  int passed() const;
  int failed() const;
};

ConformanceReport check_plugin_library(const std::filesystem::path& library);

}  // namespace sdxl::conformance
