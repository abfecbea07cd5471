// UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework", B(h) = bh1|bh2,
// data prediction) and DEIS (Zhang & Chen 2023, multistep "logrho" variant, order ≤ 2).
#include <cmath>
#include <deque>

#include "dpm_solver.h"
#include "vp_sigma.h"

namespace sdxl::schedulers {
namespace {

class UniPc final : public VpSigmaSolver {
 public:
  using VpSigmaSolver::VpSigmaSolver;

 protected:
  void build() override {
    build_table(Spacing::multistep, false);
    history_.clear();
    last_sample_ = at::Tensor();
    lower_order_nums_ = 0;
    this_order_ = 1;
  }

  /// Coefficients b_i (i = 1 … order) and B(h) for the UniPC linear systems (hh = −h).
  struct Phi {
    std::vector<double> b;
    double h_phi_1, B;
  };
  Phi phi(double h, int order) const {
    const double hh = -h;
    Phi p;
    p.h_phi_1 = std::expm1(hh);
    p.B = cfg_.values.get_string("solver_type", "bh2") == "bh1" ? hh : std::expm1(hh);
    double h_phi_k = p.h_phi_1 / hh - 1.0;
    double factorial = 1.0;
    for (int i = 1; i <= order; ++i) {
      p.b.push_back(h_phi_k * factorial / p.B);
      factorial *= i + 1;
      h_phi_k = h_phi_k / hh - 1.0 / factorial;
    }
    return p;
  }
  static std::vector<std::vector<double>> vandermonde(const std::vector<double>& rks, size_t n) {
    std::vector<std::vector<double>> r(n, std::vector<double>(n));
    for (size_t i = 0; i < n; ++i)
      for (size_t k = 0; k < n; ++k) r[i][k] = std::pow(rks[k], static_cast<double>(i));
    return r;
  }
  const at::Tensor& hist(size_t back) const { return history_[history_.size() - 1 - back]; }

  /// UniP: from x at `pos` to pos+1 with the newest `order` data predictions.
  at::Tensor predict(const at::Tensor& x, std::int64_t pos, int order) const {
    const auto t = at_pos(pos + 1), s0 = at_pos(pos);
    const auto& m0 = hist(0);
    if (sig(pos + 1) == 0.0f) return m0.clone();  // λ = +inf: the update reduces to m0
    const double h = static_cast<double>(t.lambda) - s0.lambda;
    std::vector<double> rks;
    std::vector<at::Tensor> d1s;
    for (int i = 1; i < order; ++i) {
      const double rk = (static_cast<double>(at_pos(pos - i).lambda) - s0.lambda) / h;
      rks.push_back(rk);
      d1s.push_back((hist(static_cast<size_t>(i)) - m0) / rk);
    }
    rks.push_back(1.0);
    const auto p = phi(h, order);
    auto x_t = (t.sigma / s0.sigma) * x - (t.alpha * p.h_phi_1) * m0;
    if (!d1s.empty()) {
      std::vector<double> rhos{0.5};
      if (order != 2) {
        auto r = vandermonde(rks, static_cast<size_t>(order));
        std::vector<std::vector<double>> a(static_cast<size_t>(order - 1));
        for (size_t i = 0; i < a.size(); ++i) a[i].assign(r[i].begin(), r[i].end() - 1);
        rhos = solve_small(a, std::vector<double>(p.b.begin(), p.b.end() - 1));
      }
      at::Tensor res = d1s[0] * rhos[0];
      for (size_t k = 1; k < d1s.size(); ++k) res = res + d1s[k] * rhos[k];
      x_t = x_t - (t.alpha * p.B) * res;
    }
    return x_t;
  }

  /// UniC: corrects the sample that arrived at `pos` using this call's data prediction m_t.
  at::Tensor correct(const at::Tensor& m_t, std::int64_t pos, int order) const {
    const auto t = at_pos(pos), s0 = at_pos(pos - 1);
    const auto& m0 = hist(0);
    const double h = static_cast<double>(t.lambda) - s0.lambda;
    std::vector<double> rks;
    std::vector<at::Tensor> d1s;
    for (int i = 1; i < order; ++i) {
      const double rk = (static_cast<double>(at_pos(pos - (i + 1)).lambda) - s0.lambda) / h;
      rks.push_back(rk);
      d1s.push_back((hist(static_cast<size_t>(i)) - m0) / rk);
    }
    rks.push_back(1.0);
    const auto p = phi(h, order);
    std::vector<double> rhos{0.5};
    if (order != 1) rhos = solve_small(vandermonde(rks, static_cast<size_t>(order)), p.b);
    auto x_t = (t.sigma / s0.sigma) * last_sample_ - (t.alpha * p.h_phi_1) * m0;
    at::Tensor corr = (m_t - m0) * rhos.back();
    for (size_t k = 0; k < d1s.size(); ++k) corr = d1s[k] * rhos[k] + corr;
    return x_t - (t.alpha * p.B) * corr;
  }

  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x_in, sdk::NoiseSource&) override {
    const auto solver_order = cfg_.values.get_int("solver_order", 2);
    auto m = data_prediction(out, x_in, pos);  // from the uncorrected sample, as diffusers
    at::Tensor x = x_in;
    if (pos > offset_ && last_sample_.defined()) x = correct(m, pos, this_order_);
    history_.push_back(m);
    if (static_cast<std::int64_t>(history_.size()) > solver_order) history_.pop_front();
    std::int64_t order = solver_order;
    if (cfg_.values.get_bool("lower_order_final", true)) order = std::min(solver_order, num_calls() - pos);
    this_order_ = static_cast<int>(std::min(order, lower_order_nums_ + 1));
    last_sample_ = x;
    auto prev = predict(x, pos, this_order_);
    if (lower_order_nums_ < solver_order) ++lower_order_nums_;
    return {prev, m};
  }
  std::deque<at::Tensor> history_;
  at::Tensor last_sample_;
  std::int64_t lower_order_nums_ = 0;
  int this_order_ = 1;
};

class Deis final : public VpSigmaSolver {
 public:
  using VpSigmaSolver::VpSigmaSolver;

 protected:
  void build() override {
    build_table(Spacing::multistep, true);  // DEIS ends at σ_train[0], not 0
    history_.clear();
    lower_order_nums_ = 0;
  }
  sdk::StepResult advance(const at::Tensor& out, std::int64_t pos, const at::Tensor& x, sdk::NoiseSource&) override {
    const auto solver_order = cfg_.values.get_int("solver_order", 2);
    const bool lof = cfg_.values.get_bool("lower_order_final", true);
    const auto s0 = at_pos(pos), t = at_pos(pos + 1);
    auto x0 = data_prediction(out, x, pos);
    auto eps = (x - s0.alpha * x0) / s0.sigma;  // DEIS keeps noise predictions, re-derived from x0
    history_.push_back(eps);
    if (static_cast<std::int64_t>(history_.size()) > solver_order) history_.pop_front();
    const auto n = num_calls();
    const bool lower_final = pos == n - 1 && lof && n < 15;
    int order = (solver_order == 1 || lower_order_nums_ < 1 || lower_final) ? 1 : 2;
    if (lower_order_nums_ < solver_order) ++lower_order_nums_;
    if (order == 1) {
      const float h = t.lambda - s0.lambda;
      return {(t.alpha / s0.alpha) * x - (t.sigma * (std::exp(h) - 1.0f)) * eps, x0};
    }
    const auto s1 = at_pos(pos - 1);
    const double rho_t = t.sigma / t.alpha, rho_s0 = s0.sigma / s0.alpha, rho_s1 = s1.sigma / s1.alpha;
    // ∫ of the log-ρ Lagrange basis: F(τ; b, c) = τ(ln τ − ln c − 1)/(ln b − ln c).
    auto ind = [](double tau, double b, double c) {
      return tau * (-std::log(c) + std::log(tau) - 1.0) / (std::log(b) - std::log(c));
    };
    const double c1 = ind(rho_t, rho_s0, rho_s1) - ind(rho_s0, rho_s0, rho_s1);
    const double c2 = ind(rho_t, rho_s1, rho_s0) - ind(rho_s0, rho_s1, rho_s0);
    const auto& m0 = history_.back();
    const auto& m1 = history_[history_.size() - 2];
    return {t.alpha * (x / s0.alpha + c1 * m0 + c2 * m1), x0};
  }
  std::deque<at::Tensor> history_;
  std::int64_t lower_order_nums_ = 0;
};

}  // namespace

std::unique_ptr<sdk::Scheduler> make_unipc(const std::string& f, SamplerConfig c) {
  return std::make_unique<UniPc>(f, std::move(c));
}
std::unique_ptr<sdk::Scheduler> make_deis(const std::string& f, SamplerConfig c) {
  return std::make_unique<Deis>(f, std::move(c));
}

}  // namespace sdxl::schedulers
