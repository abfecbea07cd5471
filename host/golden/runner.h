#pragma once
// Drives golden handlers: pick the handler that accepts a case, replay it from a stripped copy
// (only the inputs the handler declares), compare with the full case. Used by `sdxl golden`.

#include <filesystem>
#include <string>
#include <vector>

#include "golden/golden_case.h"

namespace sdxl::golden {

/// The first registered handler that accepts `c`, or null.
const GoldenHandler* find_handler(const GoldenCase& c);

struct CaseOutcome {
  std::string name;
  std::string handler;
  bool passed = false;
  std::string summary;  ///< one line
  TensorList produced;  ///< kept only when asked (replay --out)
  nlohmann::json json_out;
};

/// Strips `full` to what `h` allows, replays the copy and compares with `full`.
/// `keep_outputs` keeps the produced tensors in the outcome.
CaseOutcome run_case(const GoldenCase& full, const GoldenHandler& h, const GoldenOptions& opts, bool keep_outputs);

}  // namespace sdxl::golden
