#include "scheduler_base.h"

#include <cmath>

#include "sdxl/sdk/shape_text.h"

namespace sdxl::schedulers {

SchedulerBase::SchedulerBase(std::string feature, SamplerConfig cfg) : feature_(std::move(feature)), cfg_(std::move(cfg)) {
  ac_tensor_ = alphas_cumprod(cfg_.train);
  ac_ = to_doubles(ac_tensor_);
  auto sig = train_sigmas(ac_tensor_);
  sigma_train_ = to_doubles(sig);
  log_sigmas_ = to_doubles(sig.log());
}

sdk::Status SchedulerBase::set_timesteps(std::int64_t n) {
  return sdk::guard("scheduler.set_timesteps", [&]() -> sdk::Status {
    if (n < 1) return sdk::invalid_argument("scheduler '" + feature_ + "': steps must be >= 1, got " + std::to_string(n));
    if (n > cfg_.train.num_train_timesteps)
      return sdk::invalid_argument("scheduler '" + feature_ + "': steps must be <= num_train_timesteps (" +
                                   std::to_string(cfg_.train.num_train_timesteps) + "), got " + std::to_string(n));
    num_steps_ = n;
    offset_ = 0;
    timesteps_ = at::Tensor();
    sigmas_ = at::Tensor();
    try {
      build();
    } catch (const std::invalid_argument& e) {
      num_steps_ = 0;
      return sdk::invalid_argument("scheduler '" + feature_ + "': " + e.what());
    }
    index_timesteps();
    return sdk::Status::Ok();
  });
}

void SchedulerBase::index_timesteps() { ts_ = to_doubles(timesteps_); }

sdk::Status SchedulerBase::skip_calls(std::int64_t calls) {
  if (num_steps_ == 0) return sdk::invalid_argument("scheduler '" + feature_ + "': skip_calls before set_timesteps");
  if (calls < 0 || offset_ + calls >= num_calls())
    return sdk::invalid_argument("scheduler '" + feature_ + "': cannot skip " + std::to_string(calls) + " of " +
                                 std::to_string(num_calls() - offset_) + " remaining calls");
  offset_ += calls;
  return sdk::Status::Ok();
}

at::Tensor SchedulerBase::timesteps() const {
  if (!timesteps_.defined()) return timesteps_;
  return timesteps_.slice(0, offset_);
}

sdk::Status SchedulerBase::check_call(std::int64_t call, const char* what) const {
  if (num_steps_ == 0)
    return sdk::invalid_argument("scheduler '" + feature_ + "': " + what + " before set_timesteps");
  if (call < 0 || offset_ + call >= num_calls())
    return sdk::invalid_argument("scheduler '" + feature_ + "': " + what + " call " + std::to_string(call) +
                                 " out of range (0.." + std::to_string(num_calls() - offset_ - 1) + ")");
  return sdk::Status::Ok();
}

sdk::Result<at::Tensor> SchedulerBase::scale_model_input(const at::Tensor& sample, std::int64_t call) {
  return sdk::guard("scheduler.scale_model_input", [&]() -> sdk::Result<at::Tensor> {
    if (auto st = check_call(call, "scale_model_input"); !st.ok()) return st;
    if (!sample.defined()) return sdk::invalid_argument("scheduler '" + feature_ + "': sample is undefined");
    return scale(sample, offset_ + call);
  });
}

sdk::Result<sdk::StepResult> SchedulerBase::step(const at::Tensor& out, std::int64_t call, const at::Tensor& sample,
                                                 sdk::NoiseSource& noise) {
  return sdk::guard("scheduler.step", [&]() -> sdk::Result<sdk::StepResult> {
    if (auto st = check_call(call, "step"); !st.ok()) return st;
    if (!out.defined() || !sample.defined())
      return sdk::invalid_argument("scheduler '" + feature_ + "': step needs a model output and a sample");
    if (out.sizes() != sample.sizes())
      return sdk::invalid_argument("scheduler '" + feature_ + "': model output " + sdk::shape_text(out.sizes()) +
                                   " does not match sample " + sdk::shape_text(sample.sizes()));
    // diffusers upcasts the sample to float32 inside step(); the arithmetic is float32 throughout.
    auto r = advance(out.to(at::kFloat), offset_ + call, sample.to(at::kFloat), noise);
    r.prev_sample = r.prev_sample.to(sample.scalar_type());
    return r;
  });
}

sdk::Result<at::Tensor> SchedulerBase::add_noise(const at::Tensor& clean, const at::Tensor& noise, std::int64_t call) {
  return sdk::guard("scheduler.add_noise", [&]() -> sdk::Result<at::Tensor> {
    if (auto st = check_call(call, "add_noise"); !st.ok()) return st;
    if (!clean.defined() || !noise.defined() || clean.sizes() != noise.sizes())
      return sdk::invalid_argument("scheduler '" + feature_ + "': add_noise needs a clean sample and noise of one shape");
    return noise_to(clean.to(at::kFloat), noise.to(at::kFloat), offset_ + call).to(clean.scalar_type());
  });
}

at::Tensor SchedulerBase::noise_to(const at::Tensor& clean, const at::Tensor& noise, std::int64_t pos) {
  const auto t = static_cast<std::int64_t>(t_at(pos));
  const float a = static_cast<float>(ac_at(t));
  const float sqrt_a = std::sqrt(a), sqrt_1ma = std::sqrt(1.0f - a);
  return sqrt_a * clean + sqrt_1ma * noise;
}

at::Tensor SchedulerBase::draw(sdk::NoiseSource& noise, const at::Tensor& like) {
  auto d = noise.randn(like.sizes(), at::kFloat, like.device());
  if (!d.defined() || d.sizes() != like.sizes())
    throw std::runtime_error("noise source returned a tensor of the wrong shape");
  return d.to(at::kFloat);
}

at::Tensor SchedulerBase::vp_x0(const at::Tensor& out, const at::Tensor& x, double ac) const {
  const float a = static_cast<float>(ac);
  const float b = 1.0f - a;
  const float sa = std::sqrt(a), sb = std::sqrt(b);
  if (cfg_.prediction_type == "v_prediction") return sa * x - sb * out;
  if (cfg_.prediction_type == "sample") return out;
  return (x - sb * out) / sa;
}

}  // namespace sdxl::schedulers
