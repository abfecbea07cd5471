#pragma once
// A minimal but real scheduler for the test plugins: deterministic Euler on a linear sigma ramp.
// It exists so that the plugins that are *meant to load* still do their job.
#include <ATen/ATen.h>

#include "sdxl/sdk/sdk.h"

namespace sdxl_test {

class LinearEuler : public sdxl::sdk::Scheduler {
 public:
  sdxl::sdk::Status set_timesteps(std::int64_t n) override {
    if (n < 1) return sdxl::sdk::invalid_argument("steps must be >= 1");
    sigmas_ = at::linspace(10.0, 0.0, n + 1, at::kFloat);
    timesteps_ = at::linspace(999.0, 0.0, n, at::kFloat);
    first_ = 0;
    return {};
  }
  sdxl::sdk::Status skip_calls(std::int64_t calls) override {
    first_ = std::min<std::int64_t>(calls, timesteps_.size(0));
    return {};
  }
  at::Tensor timesteps() const override { return timesteps_.slice(0, first_); }
  at::Tensor sigmas() const override { return sigmas_; }
  double init_noise_sigma() const override { return 10.0; }
  sdxl::sdk::Result<at::Tensor> scale_model_input(const at::Tensor& x, std::int64_t) override { return x; }
  sdxl::sdk::Result<sdxl::sdk::StepResult> step(const at::Tensor& out, std::int64_t call, const at::Tensor& x,
                                                sdxl::sdk::NoiseSource&) override {
    const auto i = first_ + call;
    const double s = sigmas_[i].item<double>(), sn = sigmas_[i + 1].item<double>();
    at::Tensor denoised = x - s * out;
    return sdxl::sdk::StepResult{x + (sn - s) * out, denoised};
  }
  sdxl::sdk::Result<at::Tensor> add_noise(const at::Tensor& clean, const at::Tensor& noise, std::int64_t call) override {
    return clean + sigmas_[first_ + call].item<double>() * noise;
  }

 private:
  at::Tensor sigmas_ = at::zeros({1}), timesteps_ = at::zeros({0});
  std::int64_t first_ = 0;
};

/// A plugin with one scheduler feature; `options` lets a test plugin publish a broken schema.
class TestPlugin : public sdxl::sdk::Plugin {
 public:
  TestPlugin(std::string id, std::vector<sdxl::sdk::OptionSpec> options = {}) {
    info_.id = std::move(id);
    info_.name = "test plugin";
    info_.version = "1.0.0";
    info_.vendor = "sdxl-worker tests";
    info_.license = "Apache-2.0";
    sdxl::sdk::FeatureInfo f;
    f.kind = sdxl::sdk::FeatureKind::scheduler;
    f.name = "test_linear_euler";
    f.aliases = {"Test Linear Euler"};
    f.rank = sdxl::sdk::rank::marginal;
    f.options = std::move(options);
    info_.features.push_back(std::move(f));
  }
  const sdxl::sdk::PluginInfo& info() const override { return info_; }
  sdxl::sdk::Result<std::unique_ptr<sdxl::sdk::Scheduler>> create_scheduler(const std::string&,
                                                                           const sdxl::sdk::Options&,
                                                                           const sdxl::sdk::HostServices&) override {
    return std::unique_ptr<sdxl::sdk::Scheduler>(std::make_unique<LinearEuler>());
  }

 private:
  sdxl::sdk::PluginInfo info_;
};

}  // namespace sdxl_test
