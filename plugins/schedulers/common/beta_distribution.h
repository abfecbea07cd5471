#pragma once
// The regularized incomplete beta function I_x(a, b) and its inverse in x (the beta
// distribution's CDF and quantile), for the "beta" sigma schedule (Lee et al. 2024, "Beta
// Sampling is All You Need"), which spaces timesteps by the Beta(0.6, 0.6) quantiles.
// Written from the textbook definitions: the continued fraction of I_x (evaluated with the
// modified Lentz method on the side of x where it converges fast) and a bracketed Newton
// inversion. Double precision throughout; a, b > 0.

namespace sdxl::schedulers {

/// I_x(a, b) = B(x; a, b) / B(a, b) for x in [0, 1] (clamped outside).
double regularized_incomplete_beta(double x, double a, double b);

/// The x in [0, 1] with I_x(a, b) = p, p in [0, 1] (clamped). Exact at p = 0, 1, and at
/// p = 0.5 when a == b (the distribution is symmetric about 1/2).
double inverse_regularized_incomplete_beta(double p, double a, double b);

}  // namespace sdxl::schedulers
