// `sdxl config check FILE` and `sdxl config dump`.
#include <iostream>

#include "cli/startup.h"
#include "config/config.h"

namespace sdxl::cli {
namespace {

int run_config(Args& args, const GlobalOptions& global) {
  if (!parse_or_complain(args, "config")) return kExitUsage;
  const auto& pos = args.positionals();
  if (pos.empty()) {
    std::cerr << "sdxl config: expected `check FILE` or `dump`\n";
    return kExitUsage;
  }
  if (pos[0] == "dump" && pos.size() == 1) {
    std::cout << config::dump_defaults();
    return kExitOk;
  }
  if (pos[0] == "check" && pos.size() == 2) {
    GlobalOptions g = global;
    g.config_path = pos[1];
    // Loading the plugins too checks the [plugins.options] tables against their schemas.
    auto app = start_app(g);
    if (!app) return kExitUsage;
    std::cerr << pos[1] << ": ok (" << app->registry->plugins().size() << " plugins loaded, "
              << app->registry->rejected().size() << " rejected)\n";
    return kExitOk;
  }
  std::cerr << "sdxl config: expected `check FILE` or `dump`\n";
  return kExitUsage;
}

}  // namespace

SDXL_REGISTER_COMMAND(Command{
    "config", "check a configuration file, or print every key with its default",
    "usage: sdxl config check FILE\n       sdxl config dump\n\n"
    "check: parses FILE, checks every key, type and value (errors name file:line:column),\n"
    "loads the plugins and checks their option tables; exit 0 when valid, 2 otherwise.\n"
    "dump: prints a commented TOML file with every key and its default on stdout.",
    run_config})

}  // namespace sdxl::cli
