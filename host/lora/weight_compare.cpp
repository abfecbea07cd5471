#include "lora/weight_compare.h"

#include <ATen/ATen.h>

#include <sstream>

namespace sdxl::lora {

std::string CompareResult::summary() const {
  std::ostringstream os;
  os << (passed ? "PASS" : "FAIL") << ": " << compared << " expected tensors, worst |got-exp| " << worst_abs_error;
  if (!worst_key.empty()) os << " at " << worst_key;
  os << "; " << untouched << " other tensors bit-identical";
  if (!failures.empty()) {
    os << "; " << failures.size() << " problem(s):";
    for (std::size_t i = 0; i < failures.size() && i < 10; ++i) os << "\n  " << failures[i];
  }
  return os.str();
}

CompareResult compare_merge(const WeightMap& merged, const std::map<std::string, at::Tensor>& expected,
                            const MergeEngine& engine, double atol, double rtol) {
  CompareResult r;
  for (const auto& [key, exp_raw] : expected) {
    auto it = merged.find(key);
    if (it == merged.end()) {
      r.failures.push_back(key + ": expected but the model has no such parameter");
      continue;
    }
    const at::Tensor got = it->second.to(at::kDouble);
    const at::Tensor exp = exp_raw.to(at::kDouble);
    if (got.sizes() != exp.sizes()) {
      r.failures.push_back(key + ": shape differs");
      continue;
    }
    ++r.compared;
    const at::Tensor err = (got - exp).abs();
    const double worst = err.numel() ? err.max().item<double>() : 0.0;
    if (r.worst_key.empty() || worst > r.worst_abs_error) {
      r.worst_abs_error = worst;
      r.worst_key = key;
    }
    const at::Tensor bad = err > (atol + rtol * exp.abs());
    const std::int64_t n_bad = bad.sum().item<std::int64_t>();
    if (n_bad > 0 || !at::isfinite(got).all().item<bool>()) {
      std::ostringstream os;
      os << key << ": " << n_bad << " of " << err.numel() << " elements outside atol " << atol << " + rtol " << rtol
         << " (max abs error " << worst << ")";
      r.failures.push_back(os.str());
    }
  }
  for (const auto& [key, value] : merged) {
    if (expected.count(key)) continue;
    ++r.untouched;
    const at::Tensor original = engine.original(key);
    if (original.defined() && !(original.sizes() == value.sizes() && at::equal(original, value)))
      r.failures.push_back(key + ": changed, but the expected result leaves it untouched");
  }
  r.passed = r.failures.empty();
  return r;
}

}  // namespace sdxl::lora
