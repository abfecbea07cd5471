#include "cli/args.h"

namespace sdxl::cli {

bool Args::parse() {
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    const std::string& tok = tokens_[i];
    if (tok == "--") {
      positionals_.insert(positionals_.end(), tokens_.begin() + static_cast<long>(i) + 1, tokens_.end());
      break;
    }
    if (tok.size() < 3 || tok.compare(0, 2, "--") != 0) {
      positionals_.push_back(tok);
      continue;
    }
    std::string name = tok.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (flags_.count(name)) {
      if (inline_value) {
        error_ = "option --" + name + " takes no value";
        return false;
      }
      values_.emplace(name, "true");
    } else if (options_.count(name)) {
      if (inline_value) {
        values_.emplace(name, *inline_value);
      } else if (i + 1 < tokens_.size()) {
        values_.emplace(name, tokens_[++i]);
      } else {
        error_ = "option --" + name + " needs a value";
        return false;
      }
    } else {
      error_ = "unknown option --" + name;
      return false;
    }
  }
  return true;
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto range = values_.equal_range(name);
  if (range.first == range.second) return std::nullopt;
  return std::prev(range.second)->second;  // the last one wins
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
  auto v = get(name);
  return v ? *v : fallback;
}

std::vector<std::string> Args::get_all(const std::string& name) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

}  // namespace sdxl::cli
