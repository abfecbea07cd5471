#pragma once
// Wall-clock helpers of the benchmarks (`sdxl bench`): milliseconds since a point, and the median
// of repeated timings (the figure reported; robust to one slow run). Header-only.
#include <algorithm>
#include <chrono>
#include <vector>

namespace sdxl::bench {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count() * 1e3; }

/// The middle value (the upper one of an even count); 0 for no values.
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace sdxl::bench
