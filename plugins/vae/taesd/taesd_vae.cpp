#include "taesd_vae.h"

#include <ATen/Context.h>

#include <c10/core/GradMode.h>

#include "sdxl/sdk/shape_text.h"

namespace sdxl::vae_taesd {
namespace {

sdk::Status check_4d(const at::Tensor& t, const char* what, std::int64_t channels, const std::string& source,
                     const char* channel_word) {
  if (!t.defined() || t.dim() != 4) {
    return sdk::invalid_argument(std::string("vae taesd: ") + what + " must be [N, C, H, W], got " +
                                 (t.defined() ? sdk::shape_text(t.sizes()) : std::string("an undefined tensor")));
  }
  if (t.size(1) != channels) {
    return sdk::invalid_argument(std::string("vae taesd: ") + what + " have " + std::to_string(t.size(1)) +
                                 " channels but VAE '" + source + "' expects " + std::to_string(channels) + " " +
                                 channel_word);
  }
  if (t.numel() == 0) return sdk::invalid_argument(std::string("vae taesd: empty ") + what + " " + sdk::shape_text(t.sizes()));
  if (!t.is_floating_point()) return sdk::invalid_argument(std::string("vae taesd: ") + what + " must be floating point");
  return sdk::Status::Ok();
}

}  // namespace

std::vector<sdk::OptionSpec> taesd_option_schema() {
  std::vector<sdk::OptionSpec> s;
  s.push_back({"slice_batch", sdk::OptionType::boolean, false, {}, {}, {},
               "Run the networks one picture at a time (peak memory of a batch of one)"});
  return s;
}

TaesdVae::TaesdVae(const sdk::Options& options, const sdk::HostServices& services) : services_(services) {
  slice_batch_ = options.get_bool("slice_batch", false);
}

sdk::Status TaesdVae::load(const sdk::WeightSet& weights) {
  return sdk::guard("vae taesd load", [&]() -> sdk::Status {
    if (!weights.tensors) return sdk::invalid_argument("vae taesd: WeightSet of '" + weights.source + "' has no tensors");
    source_ = weights.source;
    TaesdConfig config;
    if (!weights.config_json.empty()) {
      auto parsed = parse_taesd_config(weights.config_json, weights.source + "/config.json");
      if (!parsed.ok()) return parsed.status();
      config = parsed.value();
    }
    // libtorch's CPU convolutions have no float16 kernels.
    auto dtype = services_.dtype;
    if (services_.device.is_cpu() && dtype == c10::kHalf) dtype = c10::kFloat;
    auto model = TaesdModel::bind(config, *weights.tensors, weights.source, services_.device, dtype);
    if (!model.ok()) return model.status();
    model_ = std::move(model).value();
    return sdk::Status::Ok();
  });
}

sdk::VaeInfo TaesdVae::info() const {
  sdk::VaeInfo i;
  const TaesdConfig c = model_ ? model_->config() : TaesdConfig{};
  i.latent_channels = c.latent_channels;
  i.scaling_factor = c.scaling_factor;
  i.shift_factor = c.shift_factor;
  i.downscale = c.downscale();
  return i;
}

sdk::Result<at::Tensor> TaesdVae::run_sliced(const at::Tensor& x, bool decoding, sdk::JobContext* job) {
  const std::int64_t slices = slice_batch_ ? x.size(0) : 1;
  const std::int64_t per = slice_batch_ ? 1 : x.size(0);
  std::vector<at::Tensor> outs;
  for (std::int64_t s = 0; s < slices; ++s) {
    if (job && job->cancelled()) return sdk::Status(sdk::StatusCode::cancelled, "vae taesd cancelled");
    at::Tensor part = x.slice(0, s * per, (s + 1) * per);
    outs.push_back((decoding ? model_->decode(part) : model_->encode(part)).to(at::kFloat));
    if (job) job->progress(s + 1, slices);
  }
  return outs.size() == 1 ? outs[0] : at::cat(outs, 0);
}

sdk::Result<at::Tensor> TaesdVae::encode(const at::Tensor& images, sdk::NoiseSource*, sdk::JobContext* job) {
  return sdk::guard("vae taesd encode", [&]() -> sdk::Result<at::Tensor> {
    if (!model_) return sdk::invalid_argument("vae taesd: encode called before load()");
    if (!model_->has_encoder()) return sdk::unsupported("vae taesd: '" + source_ + "' has no encoder weights");
    const auto& c = model_->config();
    auto st = check_4d(images, "images", c.in_channels, source_, "image channels");
    if (!st.ok()) return st;
    const auto f = c.downscale();
    if (images.size(2) % f != 0 || images.size(3) % f != 0) {
      return sdk::invalid_argument("vae taesd encode: image size " + std::to_string(images.size(2)) + "x" +
                                   std::to_string(images.size(3)) + " is not a multiple of " + std::to_string(f));
    }
    c10::NoGradGuard no_grad;
    auto out = run_sliced(images.to(model_->device(), model_->dtype()), false, job);
    if (!out.ok()) return out.status();
    return ((out.value() - c.shift_factor) * c.scaling_factor).contiguous();
  });
}

sdk::Result<at::Tensor> TaesdVae::decode(const at::Tensor& latents, sdk::JobContext* job) {
  return sdk::guard("vae taesd decode", [&]() -> sdk::Result<at::Tensor> {
    if (!model_) return sdk::invalid_argument("vae taesd: decode called before load()");
    const auto& c = model_->config();
    auto st = check_4d(latents, "latents", c.latent_channels, source_, "latent channels");
    if (!st.ok()) return st;
    c10::NoGradGuard no_grad;
    at::Tensor z = (latents.to(at::kFloat) / c.scaling_factor + c.shift_factor).to(model_->device(), model_->dtype());
    return run_sliced(z, true, job);
  });
}

std::uint64_t TaesdVae::estimate_decode_bytes(at::IntArrayRef shape) const {
  if (shape.size() != 4) return 0;
  const TaesdConfig c = model_ ? model_->config() : TaesdConfig{};  // before load(): TAESD-XL
  const std::uint64_t f = static_cast<std::uint64_t>(c.downscale());
  const std::uint64_t pixels = static_cast<std::uint64_t>(shape[2]) * f * static_cast<std::uint64_t>(shape[3]) * f;
  const std::uint64_t ch = static_cast<std::uint64_t>(c.decoder_channels.back());
  const auto device = model_ ? model_->device() : services_.device;
  const bool im2col = device.is_cpu() && !(at::hasMKLDNN() && at::globalContext().userEnabledMkldnn());
  const std::uint64_t per_pixel = 3 * ch + (im2col ? 9 * ch : 2 * ch);
  const std::uint64_t at_once = slice_batch_ ? 1 : static_cast<std::uint64_t>(shape[0]);
  const auto dtype = model_ ? model_->dtype() : (device.is_cpu() && services_.dtype == c10::kHalf ? c10::kFloat : services_.dtype);
  const std::uint64_t e = c10::elementSize(dtype);
  // + the same fixed runtime overhead as measured for the KL decoder (oneDNN caches, reorders).
  const std::uint64_t overhead = std::uint64_t{64} << 20;
  return at_once * pixels * per_pixel * e + static_cast<std::uint64_t>(shape[0]) * c.out_channels * pixels * 4 + overhead;
}

}  // namespace sdxl::vae_taesd
