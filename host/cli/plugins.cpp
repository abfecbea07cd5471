// `sdxl plugins [--json] [ID]`: every plugin, its features and options, and the rejected
// libraries with their reasons. Exit 0 even when some libraries were rejected.
#include <iostream>

#include "cli/startup.h"
#include "plugins/describe.h"

namespace sdxl::cli {
namespace {

int run_plugins(Args& args, const GlobalOptions& global) {
  args.flag("json");
  if (!parse_or_complain(args, "plugins")) return kExitUsage;
  if (args.positionals().size() > 1) {
    std::cerr << "sdxl plugins: at most one ID\n";
    return kExitUsage;
  }
  auto app = start_app(global);
  if (!app) return kExitUsage;
  const auto& reg = *app->registry;
  const std::string only = args.positionals().empty() ? "" : args.positionals()[0];
  if (args.has("json")) {
    auto j = plugins::registry_json(reg);
    if (!only.empty()) {
      nlohmann::json filtered = nlohmann::json::array();
      for (auto& p : j["plugins"]) {
        bool match = p["id"] == only;
        for (auto& f : p["features"]) match = match || f["name"] == only;
        if (match) filtered.push_back(p);
      }
      if (filtered.empty()) {
        std::cerr << "sdxl plugins: no plugin or feature '" << only << "'\n";
        return kExitFailure;
      }
      j["plugins"] = filtered;
    }
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::string text;
  if (!plugins::describe_text(reg, only, text)) {
    std::cerr << "sdxl plugins: no plugin or feature '" << only << "'\n";
    return kExitFailure;
  }
  std::cout << text;
  return kExitOk;
}

}  // namespace

SDXL_REGISTER_COMMAND(Command{
    "plugins", "list plugins, their features and options, and rejected libraries",
    "usage: sdxl plugins [--json] [ID]\n\n"
    "Lists every loaded plugin with its features (kind, name, aliases, rank) and options with\n"
    "defaults, then every library that was rejected and why. With ID (a plugin id or feature\n"
    "name), shows only that. --json prints {\"plugins\":[…],\"rejected\":[…]} on stdout.\n"
    "Plugins are searched in --plugin-path, SDXL_PLUGIN_PATH, [plugins] paths, then\n"
    "lib/sdxl/plugins beside the executable.",
    run_plugins})

}  // namespace sdxl::cli
