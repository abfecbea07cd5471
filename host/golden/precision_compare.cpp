#include "golden/precision_compare.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <limits>

namespace sdxl::golden {

double relative_rms_error(const at::Tensor& got, const at::Tensor& want) {
  if (!got.defined() || !want.defined() || got.numel() != want.numel()) return std::nan("");
  const at::Tensor g = got.to(at::kCPU, at::kDouble).reshape({-1});
  const at::Tensor w = want.to(at::kCPU, at::kDouble).reshape({-1});
  if (!at::isfinite(g).equal(at::isfinite(w))) return std::numeric_limits<double>::infinity();
  const at::Tensor finite = at::isfinite(w);
  const at::Tensor gf = g.masked_select(finite), wf = w.masked_select(finite);
  const double want_rms = wf.numel() ? wf.pow(2).mean().sqrt().item<double>() : 0.0;
  const double diff_rms = wf.numel() ? (gf - wf).pow(2).mean().sqrt().item<double>() : 0.0;
  if (want_rms == 0.0) return diff_rms == 0.0 ? 0.0 : std::nan("");
  return diff_rms / want_rms;
}

double relative_rms_bound(c10::ScalarType dtype) {
  // bfloat16 keeps 8 significant bits, float16 11. See docs/golden.md for the measurements.
  if (dtype == c10::kBFloat16) return 0.12;
  if (dtype == c10::kHalf) return 0.03;
  return 0.0;
}

CompareReport compare_relative_rms(const GoldenCase& full, const TensorList& produced, c10::ScalarType dtype,
                                   const std::set<std::string>& required, double slack) {
  const double bound = relative_rms_bound(dtype) * slack;
  int compared = 0;
  bool failed = false;
  double worst = -1.0;
  std::string worst_name;
  for (const auto& [name, got] : produced) {
    if (!got.defined() || !at::isFloatingType(got.scalar_type())) continue;
    if (!full.tensors || !full.tensors->contains(name)) continue;
    auto want = full.tensors->tensor(name);
    if (!want.ok() || !at::isFloatingType(want.value().scalar_type())) continue;
    const double rel = relative_rms_error(got, want.value());
    ++compared;
    // NaN (shape mismatch, non-zero against all zeros) counts as the worst and fails.
    const double badness = std::isnan(rel) ? std::numeric_limits<double>::infinity() : rel;
    failed = failed || !(rel <= bound);
    if (badness > worst) {
      worst = badness;
      worst_name = name;
    }
  }
  std::string missing;
  for (const auto& name : required) {
    bool found = false;
    for (const auto& p : produced) found = found || p.first == name;
    if (!found) missing += (missing.empty() ? "" : ", ") + name;
  }
  if (!missing.empty()) return {false, "outputs not produced: " + missing};
  char buf[256];
  if (compared == 0) return {false, "no floating output of the case was produced"};
  std::snprintf(buf, sizeof buf, "%d tensors by relative RMS error (bound %.3g for %s); worst %s: %.4g", compared,
                bound, c10::toString(dtype), worst_name.c_str(), worst);
  return {!failed, buf};
}

}  // namespace sdxl::golden
