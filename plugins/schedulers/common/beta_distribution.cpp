#include "beta_distribution.h"

#include <algorithm>
#include <cmath>

namespace sdxl::schedulers {
namespace {

/// Continued fraction for I_x(a, b) (the standard one, with d_{2m+1} = -(a+m)(a+b+m)x/((a+2m)(a+2m+1))
/// and d_{2m} = m(b-m)x/((a+2m-1)(a+2m))), by the modified Lentz method. Converges quickly for
/// x < (a+1)/(a+b+2).
double beta_continued_fraction(double x, double a, double b) {
  constexpr double kTiny = 1e-300;
  constexpr double kEps = 1e-16;
  const double qab = a + b, qap = a + 1.0, qam = a - 1.0;
  double c = 1.0;
  double d = 1.0 - qab * x / qap;
  if (std::abs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));  // even step
    d = 1.0 + aa * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));  // odd step
    d = 1.0 + aa * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (std::abs(del - 1.0) < kEps) break;
  }
  return h;
}

double log_beta(double a, double b) { return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b); }

}  // namespace

double regularized_incomplete_beta(double x, double a, double b) {
  if (!(x > 0.0)) return 0.0;
  if (x >= 1.0) return 1.0;
  // x^a (1-x)^b / B(a, b), in logs to stay finite for large a, b.
  const double front = std::exp(a * std::log(x) + b * std::log1p(-x) - log_beta(a, b));
  if (x < (a + 1.0) / (a + b + 2.0)) return front * beta_continued_fraction(x, a, b) / a;
  // Symmetry I_x(a, b) = 1 - I_{1-x}(b, a) puts x on the fast side of the fraction.
  return 1.0 - front * beta_continued_fraction(1.0 - x, b, a) / b;
}

double inverse_regularized_incomplete_beta(double p, double a, double b) {
  if (!(p > 0.0)) return 0.0;
  if (p >= 1.0) return 1.0;
  if (a == b && p == 0.5) return 0.5;
  // I_x is increasing in x, so [lo, hi] always brackets the root; Newton steps that leave the
  // bracket (near the ends the density can be unbounded, e.g. a, b < 1) fall back to bisection.
  double lo = 0.0, hi = 1.0, x = 0.5;
  const double lb = log_beta(a, b);
  for (int it = 0; it < 200; ++it) {
    const double f = regularized_incomplete_beta(x, a, b) - p;
    if (f == 0.0) return x;
    if (f < 0.0) {
      lo = x;
    } else {
      hi = x;
    }
    const double density = std::exp((a - 1.0) * std::log(x) + (b - 1.0) * std::log1p(-x) - lb);
    double next = x - f / density;
    if (!(next > lo && next < hi) || !std::isfinite(next)) next = 0.5 * (lo + hi);
    if (std::abs(next - x) <= 1e-17 + 4e-16 * x || hi - lo <= 4e-16 * std::max(lo, 1e-300)) return next;
    x = next;
  }
  return x;
}

}  // namespace sdxl::schedulers
