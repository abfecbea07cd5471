#pragma once
// Subcommands of the `sdxl` executable. Each lives in its own file under host/cli/ and registers
// itself with SDXL_REGISTER_COMMAND; main.cpp only dispatches. Exit codes: 0 ok, 1 runtime
// failure, 2 usage or configuration error.

#include <functional>
#include <string>
#include <vector>

#include "cli/args.h"

namespace sdxl::cli {

enum ExitCode { kExitOk = 0, kExitFailure = 1, kExitUsage = 2 };

/// Options every subcommand understands (parsed by main before dispatch).
struct GlobalOptions {
  std::string config_path;                ///< --config FILE (empty: config/sdxl.toml search)
  std::vector<std::string> plugin_paths;  ///< --plugin-path DIR (repeatable)
  std::string log_level;                  ///< --log-level (empty: [log] level, else info)
  std::string log_format;                 ///< --log-format (empty: [log] format, else text)
  std::string executable;                 ///< argv[0], to find lib/sdxl/plugins beside bin/
};

struct Command {
  std::string name;     ///< first word after `sdxl` ("plugins", "golden")
  std::string summary;  ///< one line for `sdxl --help`
  std::string help;     ///< full text for `sdxl NAME --help`
  std::function<int(Args& args, const GlobalOptions& global)> run;
};

std::vector<Command>& commands();

struct CommandRegistrar {
  explicit CommandRegistrar(Command c) { commands().push_back(std::move(c)); }
};

}  // namespace sdxl::cli

#define SDXL_CLI_CONCAT_IMPL(a, b) a##b
#define SDXL_CLI_CONCAT(a, b) SDXL_CLI_CONCAT_IMPL(a, b)
/// Registers a Command at static-initialisation time (the cli/ objects are linked into the
/// executable directly, so the registrars are never dropped by the linker).
#define SDXL_REGISTER_COMMAND(...) \
  static ::sdxl::cli::CommandRegistrar SDXL_CLI_CONCAT(sdxl_cli_registrar_, __LINE__){__VA_ARGS__};
