#include "golden/compare.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <limits>

namespace sdxl::golden {

namespace {
std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "]";
}
}  // namespace

Deviation compare_tensors(const at::Tensor& got, const at::Tensor& want, double atol, double rtol) {
  Deviation d;
  if (!got.defined() || !want.defined()) {
    d.ok = false;
    d.problem = got.defined() ? "expected tensor missing" : "not produced";
    return d;
  }
  if (got.numel() != want.numel() || (got.dim() != want.dim() && got.numel() != 1)) {
    d.ok = false;
    d.problem = "shape " + shape_of(got) + " but expected " + shape_of(want);
    return d;
  }
  auto g = got.to(at::kCPU, at::kDouble).contiguous().reshape({-1});
  auto w = want.to(at::kCPU, at::kDouble).contiguous().reshape({-1});
  const double* gp = g.data_ptr<double>();
  const double* wp = w.data_ptr<double>();
  for (std::int64_t i = 0; i < g.numel(); ++i) {
    const double a = gp[i], b = wp[i];
    double ratio;
    if (std::isnan(b) || std::isnan(a)) {
      ratio = (std::isnan(a) && std::isnan(b)) ? 0.0 : std::numeric_limits<double>::infinity();
    } else if (std::isinf(b) || std::isinf(a)) {
      ratio = a == b ? 0.0 : std::numeric_limits<double>::infinity();
    } else {
      const double diff = std::abs(a - b);
      const double bound = atol + rtol * std::abs(b);
      ratio = bound > 0 ? diff / bound : (diff > 0 ? std::numeric_limits<double>::infinity() : 0.0);
      if (diff > d.max_abs) d.max_abs = diff;
    }
    if (ratio > d.worst || d.index < 0) {
      d.worst = ratio;
      d.index = i;
      d.got = a;
      d.want = b;
    }
  }
  d.ok = d.worst <= 1.0;
  return d;
}

std::string describe(const std::string& name, const Deviation& d) {
  if (!d.problem.empty()) return name + ": " + d.problem;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s: %.3g of tolerance (max |d| %.3g; worst at %lld: got %.9g want %.9g)",
                name.c_str(), d.worst, d.max_abs, static_cast<long long>(d.index), d.got, d.want);
  return buf;
}

void WorstTracker::add(const std::string& n, const Deviation& d) {
  if (!d.ok) any_failed = true;
  const bool replace = name.empty() || (!d.problem.empty() && dev.problem.empty()) ||
                       (d.problem.empty() == dev.problem.empty() && d.worst > dev.worst);
  if (replace) {
    name = n;
    dev = d;
  }
}

}  // namespace sdxl::golden
