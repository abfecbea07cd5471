// The regularized incomplete beta function and its inverse (used by the "beta" sigma schedule),
// checked against closed forms that hold for special parameters — I_x(1, b) = 1 − (1−x)^b,
// I_x(a, 1) = x^a, I_x(2, 2) = 3x² − 2x³, the arcsine law I_x(½, ½) = (2/π)·asin √x, the
// symmetry I_½(a, a) = ½ — and, for the schedule's own parameters a = b = 0.6, against the
// density integrated numerically here (no closed form exists there).
#include <catch2/catch.hpp>

#include <cmath>

#include "beta_distribution.h"

using sdxl::schedulers::inverse_regularized_incomplete_beta;
using sdxl::schedulers::regularized_incomplete_beta;

namespace {

constexpr double kPi = 3.14159265358979323846;

/// I_x(a, b) by quadrature: with t = sin²θ the integrand t^(a−1)(1−t)^(b−1) dt becomes
/// 2 sin^(2a−1)θ cos^(2b−1)θ dθ (bounded for a, b >= ½), and θ = u⁵ removes the fractional
/// power at θ = 0, so composite Simpson on [0, (asin √x)^(1/5)] converges fast. Normalized by
/// B(a, b) = Γ(a)Γ(b)/Γ(a+b). For x up to ~0.995 (cos θ stays away from 0).
double cdf_by_quadrature(double x, double a, double b) {
  const double upper = std::pow(std::asin(std::sqrt(x)), 0.2);
  const int n = 20000;  // even
  const double h = upper / n;
  auto f = [&](double u) {
    const double th = std::pow(u, 5);
    return 2.0 * std::pow(std::sin(th), 2 * a - 1) * std::pow(std::cos(th), 2 * b - 1) * 5.0 * std::pow(u, 4);
  };
  double sum = f(0.0) + f(upper);
  for (int i = 1; i < n; ++i) sum += f(i * h) * (i % 2 ? 4.0 : 2.0);
  const double beta_ab = std::tgamma(a) * std::tgamma(b) / std::tgamma(a + b);
  return sum * h / 3.0 / beta_ab;
}

}  // namespace

TEST_CASE("incomplete beta matches closed forms", "[schedulers][beta]") {
  for (double x : {1e-6, 0.01, 0.2, 0.5, 0.77, 0.999}) {
    for (double p : {0.3, 0.6, 1.0, 2.5, 9.0}) {
      INFO("x " << x << " param " << p);
      CHECK(regularized_incomplete_beta(x, 1.0, p) == Approx(1.0 - std::pow(1.0 - x, p)).epsilon(1e-12).margin(1e-15));
      CHECK(regularized_incomplete_beta(x, p, 1.0) == Approx(std::pow(x, p)).epsilon(1e-12).margin(1e-15));
    }
    CHECK(regularized_incomplete_beta(x, 2.0, 2.0) == Approx(3 * x * x - 2 * x * x * x).epsilon(1e-12).margin(1e-15));
    CHECK(regularized_incomplete_beta(x, 0.5, 0.5) ==
          Approx(2.0 / kPi * std::asin(std::sqrt(x))).epsilon(1e-12).margin(1e-15));
  }
  for (double a : {0.3, 0.6, 1.0, 2.5, 7.0}) CHECK(regularized_incomplete_beta(0.5, a, a) == Approx(0.5).epsilon(1e-13));
  CHECK(regularized_incomplete_beta(0.0, 0.6, 0.6) == 0.0);
  CHECK(regularized_incomplete_beta(1.0, 0.6, 0.6) == 1.0);
}

TEST_CASE("incomplete beta for a = b = 0.6 matches the integrated density", "[schedulers][beta]") {
  for (double x : {0.001, 0.05, 0.3, 0.5, 0.62, 0.9, 0.995}) {
    INFO("x " << x);
    CHECK(regularized_incomplete_beta(x, 0.6, 0.6) == Approx(cdf_by_quadrature(x, 0.6, 0.6)).epsilon(1e-10));
  }
}

TEST_CASE("inverse incomplete beta matches closed-form quantiles", "[schedulers][beta]") {
  for (double p : {1e-9, 0.001, 0.1, 0.25, 0.5, 0.8, 0.999, 1 - 1e-9}) {
    INFO("p " << p);
    // arcsine law: quantile sin²(πp/2)
    const double s = std::sin(kPi * p / 2);
    CHECK(inverse_regularized_incomplete_beta(p, 0.5, 0.5) == Approx(s * s).epsilon(1e-11).margin(1e-15));
    // Near p = 1 the quantile is ill-conditioned (and so is 1 − p in the closed form): compare to 1e-9 there.
    const double tol = p > 0.99 ? 1e-9 : 1e-11;
    for (double q : {0.6, 2.0, 5.0}) {
      CHECK(inverse_regularized_incomplete_beta(p, 1.0, q) ==
            Approx(1.0 - std::pow(1.0 - p, 1.0 / q)).epsilon(tol).margin(1e-15));
      CHECK(inverse_regularized_incomplete_beta(p, q, 1.0) == Approx(std::pow(p, 1.0 / q)).epsilon(tol).margin(1e-15));
    }
  }
  CHECK(inverse_regularized_incomplete_beta(0.5, 0.6, 0.6) == 0.5);
  CHECK(inverse_regularized_incomplete_beta(0.0, 0.6, 0.6) == 0.0);
  CHECK(inverse_regularized_incomplete_beta(1.0, 0.6, 0.6) == 1.0);
}

TEST_CASE("inverse incomplete beta for a = b = 0.6 is symmetric and inverts the quadrature CDF", "[schedulers][beta]") {
  for (double p : {0.02, 0.1, 0.3, 0.45}) {
    const double x = inverse_regularized_incomplete_beta(p, 0.6, 0.6);
    const double y = inverse_regularized_incomplete_beta(1.0 - p, 0.6, 0.6);
    INFO("p " << p);
    CHECK(x + y == Approx(1.0).epsilon(1e-13));  // Beta(a, a) is symmetric about ½
    CHECK(cdf_by_quadrature(x, 0.6, 0.6) == Approx(p).epsilon(1e-10));
  }
}
