// bin/sdxl: parses the global options, sets up logging, dispatches to a subcommand.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "util/crash_report.h"
#include "util/logging.h"

namespace sdxl::cli {

std::vector<Command>& commands() {
  static std::vector<Command> all;
  return all;
}

namespace {

void print_usage(std::ostream& os) {
  os << "sdxl " << SDXL_VERSION << " — Stable Diffusion XL inference worker\n\n"
     << "usage: sdxl [--config FILE] [--plugin-path DIR]... [--log-level L] [--log-format text|json]\n"
     << "            COMMAND [ARGS]\n\ncommands:\n";
  for (const auto& c : commands()) {
    std::string pad(c.name.size() < 14 ? 14 - c.name.size() : 1, ' ');
    os << "  " << c.name << pad << c.summary << "\n";
  }
  os << "\n`sdxl COMMAND --help` describes one command. Exit codes: 0 ok, 1 failure, 2 usage/config error.\n";
}

}  // namespace
}  // namespace sdxl::cli

int main(int argc, char** argv) {
  using namespace sdxl::cli;
  sdxl::util::install_crash_report();
  GlobalOptions global;
  global.executable = argv[0];
  std::vector<std::string> rest;
  // Global options come before the command word.
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    auto take = [&](std::string& dst) {
      if (auto eq = a.find('='); eq != std::string::npos) {
        dst = a.substr(eq + 1);
        return true;
      }
      if (i + 1 >= argc) {
        std::cerr << "sdxl: option " << a << " needs a value\n";
        return false;
      }
      dst = argv[++i];
      return true;
    };
    auto is = [&](const char* name) { return a == name || a.rfind(std::string(name) + "=", 0) == 0; };
    if (a == "--version") {
      std::cout << "sdxl " << SDXL_VERSION << "\n";
      return kExitOk;
    } else if (a == "--help" || a == "-h") {
      print_usage(std::cout);
      return kExitOk;
    } else if (is("--config")) {
      if (!take(global.config_path)) return kExitUsage;
    } else if (is("--plugin-path")) {
      std::string p;
      if (!take(p)) return kExitUsage;
      global.plugin_paths.push_back(p);
    } else if (is("--log-level")) {
      if (!take(global.log_level)) return kExitUsage;
    } else if (is("--log-format")) {
      if (!take(global.log_format)) return kExitUsage;
    } else {
      break;
    }
  }
  if (i >= argc) {
    print_usage(std::cerr);
    return kExitUsage;
  }
  std::string name = argv[i++];
  for (; i < argc; ++i) rest.emplace_back(argv[i]);

  if (auto st = sdxl::util::setup_logging(global.log_level.empty() ? "info" : global.log_level,
                                          global.log_format.empty() ? "text" : global.log_format);
      !st.ok()) {
    std::cerr << "sdxl: " << st.message() << "\n";
    return kExitUsage;
  }
  for (auto& c : commands()) {
    if (c.name != name) continue;
    if (!rest.empty() && (rest[0] == "--help" || rest[0] == "-h")) {
      std::cout << c.help << "\n";
      return kExitOk;
    }
    Args args(rest);
    try {
      return c.run(args, global);
    } catch (const std::exception& e) {
      sdxl::util::log_error(std::string("unexpected error: ") + e.what());
      return kExitFailure;
    }
  }
  std::cerr << "sdxl: unknown command '" << name << "'\n\n";
  print_usage(std::cerr);
  return kExitUsage;
}
