#pragma once
// The process's peak resident set size (VmHWM of /proc/self/status), for benchmark reports.
// Header-only so the minimal GPU build (bench/gpu) can use it without the host library.
#include <fstream>
#include <string>

namespace sdxl::util {

/// Peak RSS in MiB; 0 when /proc is unavailable.
inline double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0.0;
}

}  // namespace sdxl::util
