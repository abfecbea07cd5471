#pragma once
// Shared start-up for CLI commands: configuration + plugins, with the config's [log] settings
// applied unless --log-level/--log-format were given, and errors printed the same way.

#include <optional>

#include "app/bootstrap.h"
#include "cli/command.h"

namespace sdxl::cli {

/// Loads config and plugins; on failure logs the error and returns nullopt (exit with kExitUsage).
std::optional<app::App> start_app(const GlobalOptions& global, bool load_plugins = true);

/// Parses `args`; on failure prints the error and the command's usage. Returns false then.
bool parse_or_complain(Args& args, const std::string& command);

}  // namespace sdxl::cli
