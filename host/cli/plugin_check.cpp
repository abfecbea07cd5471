// `sdxl plugin-check PATH.so`: the conformance kit (host/conformance/) on one plugin library.
#include <iostream>

#include "cli/startup.h"
#include "conformance/plugin_check.h"

namespace sdxl::cli {
namespace {

int run_plugin_check(Args& args, const GlobalOptions&) {
  if (!parse_or_complain(args, "plugin-check")) return kExitUsage;
  if (args.positionals().size() != 1) {
    std::cerr << "usage: sdxl plugin-check PATH.so\n";
    return kExitUsage;
  }
  const auto report = conformance::check_plugin_library(args.positionals()[0]);
  for (const auto& c : report.checks)
    std::cout << (c.passed ? "PASS " : "FAIL ") << c.name << (c.passed ? "" : ": " + c.detail) << "\n";
  std::cout << "plugin-check: " << report.passed() << " passed, " << report.failed() << " failed\n";
  return report.failed() == 0 ? kExitOk : kExitFailure;
}

}  // namespace

SDXL_REGISTER_COMMAND(Command{
    "plugin-check", "run the plugin conformance kit on a plugin library",
    "usage: sdxl plugin-check PATH.so\n\n"
    "Loads PATH.so on its own and runs the generic contract tests: handshake (ABI, build tag, entry\n"
    "symbol), descriptor and option schemas, create/destroy cycles, and the per-kind contracts\n"
    "on tiny CPU inputs. Prints PASS/FAIL per check and exits 0 only when all pass.",
    run_plugin_check})

}  // namespace sdxl::cli
