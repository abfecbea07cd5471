#include "golden/manifest_tolerance.h"

namespace sdxl::golden {

bool glob_match(const std::string& pattern, const std::string& text) {
  // Iterative '*' matching with one backtrack point.
  std::size_t p = 0, t = 0, star = std::string::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Tolerance manifest_tolerance(const nlohmann::json& manifest, const std::string& tensor, Tolerance fallback) {
  auto it = manifest.find("suggested_tolerance");
  if (it == manifest.end() || !it->is_object()) return fallback;
  Tolerance best = fallback;
  long best_literal = -1;
  for (const auto& [key, tol] : it->items()) {
    if (!tol.is_object()) continue;
    for (std::size_t s = 0; s <= key.size();) {
      auto e = key.find('|', s);
      const std::string alt = key.substr(s, e == std::string::npos ? std::string::npos : e - s);
      s = e == std::string::npos ? key.size() + 1 : e + 1;
      if (!glob_match(alt, tensor)) continue;
      long literal = 0;
      for (char c : alt) literal += c != '*';
      if (literal <= best_literal) continue;
      best_literal = literal;
      best = {tol.value("atol", fallback.atol), tol.value("rtol", fallback.rtol), true};
    }
  }
  return best;
}

}  // namespace sdxl::golden
