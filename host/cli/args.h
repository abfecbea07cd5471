#pragma once
// A small command-line parser: `--key value`, `--key=value`, boolean `--flag`, repeatable
// options and positionals. Unknown options are errors, reported by name.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sdxl::cli {

class Args {
 public:
  explicit Args(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}

  /// Declare what the command accepts, then call parse(). `flags` take no value.
  void flag(const std::string& name) { flags_.insert(name); }
  void option(const std::string& name) { options_.insert(name); }
  /// Parses the tokens; false with error() set on an unknown option or a missing value.
  bool parse();
  const std::string& error() const { return error_; }

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::string get_or(const std::string& name, const std::string& fallback) const;
  std::vector<std::string> get_all(const std::string& name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::vector<std::string> tokens_;
  std::set<std::string> flags_, options_;
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positionals_;
  std::string error_;
};

}  // namespace sdxl::cli
