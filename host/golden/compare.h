#pragma once
// Elementwise tolerance comparison used by every golden handler:
// |got − want| ≤ atol + rtol·|want|, with NaN equal to NaN and ±inf equal to itself.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace sdxl::golden {

struct Deviation {
  bool ok = true;
  double worst = 0.0;    ///< max |got − want| / (atol + rtol·|want|); ≤ 1 passes
  double max_abs = 0.0;  ///< max |got − want| over finite pairs
  std::int64_t index = -1;  ///< flat index of the worst element
  double got = 0.0, want = 0.0;
  std::string problem;   ///< shape mismatch, NaN where a number was expected, …
};

/// Compares two tensors of any real dtype (both converted to double).
Deviation compare_tensors(const at::Tensor& got, const at::Tensor& want, double atol, double rtol);

/// "name: worst 0.31 of tolerance (|d| 3.1e-06 at 17: got … want …)" or the problem.
std::string describe(const std::string& name, const Deviation& d);

/// Keeps the worse of two deviations (by problem first, then by `worst`), with its name.
struct WorstTracker {
  std::string name;
  Deviation dev;
  bool any_failed = false;
  void add(const std::string& n, const Deviation& d);
};

}  // namespace sdxl::golden
