#include "kl_vae.h"

#include <functional>
#include <string_view>
#include <c10/core/GradMode.h>

#include "kl_memory.h"
#include "kl_precision.h"
#include "sdxl/sdk/shape_text.h"

namespace sdxl::vae_kl {
namespace {

// Whether the host's DeviceOps keep a channels-last GroupNorm channels-last on this device and
// dtype (then no layout copies around the norms): asked once, on a tiny tensor.
bool host_keeps_norm_layout(const sdk::HostServices& services, c10::ScalarType dtype) {
  if (!services.ops) return false;
  const auto o = at::TensorOptions().device(services.device).dtype(dtype);
  const at::Tensor x = at::zeros({1, 8, 2, 2}, o).contiguous(at::MemoryFormat::ChannelsLast);
  return services.ops->group_norm(x, 8, at::ones({8}, o), at::zeros({8}, o), 1e-6, true).defined();
}

}  // namespace

std::vector<sdk::OptionSpec> kl_option_schema() {
  std::vector<sdk::OptionSpec> s;
  s.push_back({"tiling", sdk::OptionType::boolean, false, {}, {}, {},
               "Decode/encode in overlapping tiles blended with linear ramps (bounded memory, "
               "small deviations from the untiled result)"});
  s.push_back({"tile_size", sdk::OptionType::integer, std::int64_t{64}, 8.0, 1024.0, {},
               "Tile side in latent pixels (x8 image pixels)"});
  s.push_back({"tile_height", sdk::OptionType::integer, std::int64_t{0}, 0.0, 1024.0, {},
               "Tile height in latent pixels when it differs from tile_size (0: tile_size)"});
  s.push_back({"tile_width", sdk::OptionType::integer, std::int64_t{0}, 0.0, 1024.0, {},
               "Tile width in latent pixels when it differs from tile_size (0: tile_size); e.g. "
               "full-width strips split the picture along one axis only"});
  s.push_back({"tile_overlap", sdk::OptionType::integer, std::int64_t{16}, 0.0, 512.0, {},
               "Minimum overlap of neighbouring tiles in latent pixels; clamped below tile_size"});
  s.push_back({"slice_batch", sdk::OptionType::boolean, false, {}, {}, {},
               "Run the networks one picture at a time (peak memory of a batch of one)"});
  s.push_back({"force_upcast", sdk::OptionType::string, std::string("auto"), {}, {}, {"auto", "on", "off"},
               "Run in a wider dtype than the host's 16-bit one: auto, where config.json's force_upcast says "
               "so (true for the original SDXL VAE, which overflows in float16), runs float16 jobs in "
               "bfloat16 on GPUs that compute it natively (compute capability 8.0+) and in float32 "
               "elsewhere, and leaves bfloat16 alone (its range is float32's); on: float32 for both"});
  s.push_back({"channels_last", sdk::OptionType::boolean, false, {}, {}, {},
               "Convolutions in channels-last (NHWC) memory layout, which tensor-core GPU kernels read "
               "natively; the same numbers either way"});
  s.push_back({"upsample", sdk::OptionType::string, std::string("subpixel"), {}, {}, {"subpixel", "nearest"},
               "How the decoder's nearest x2 + 3x3 convolution upsamplers run: subpixel computes each output "
               "phase with a 2x2 convolution of the small input (the same sums, 16/36 of the work, no 4x copy); "
               "nearest upsamples first, as diffusers does"});
  return s;
}

KlVae::KlVae(const sdk::Options& options, const sdk::HostServices& services) : services_(services) {
  tiling_ = options.get_bool("tiling", false);
  const std::int64_t tile = std::max<std::int64_t>(1, options.get_int("tile_size", 64));
  const std::int64_t height = options.get_int("tile_height", 0), width = options.get_int("tile_width", 0);
  tile_height_ = height > 0 ? height : tile;
  tile_width_ = width > 0 ? width : tile;
  tile_overlap_ = std::max<std::int64_t>(0, options.get_int("tile_overlap", 16));
  slice_batch_ = options.get_bool("slice_batch", false);
  force_upcast_ = options.get_string("force_upcast", "auto");
  native_bfloat16_ = device_has_native_bfloat16(services.device);
  compute_.channels_last = options.get_bool("channels_last", false);
  compute_.subpixel_upsample = options.get_string("upsample", "subpixel") == "subpixel";
  compute_.ops = services.ops;
}

c10::ScalarType KlVae::compute_dtype_for(bool config_force_upcast) const {
  PrecisionInputs in;
  in.job_dtype = services_.dtype;
  in.force_upcast = force_upcast_;
  in.config_force_upcast = config_force_upcast;
  in.device = services_.device;
  in.native_bfloat16 = native_bfloat16_;
  return kl_compute_dtype(in);
}

sdk::Result<KlConfig> KlVae::config_of(const sdk::WeightSet& weights) {
  if (!weights.tensors) return sdk::invalid_argument("vae kl: WeightSet of '" + weights.source + "' has no tensors");
  return weights.config_json.empty() ? infer_kl_config(*weights.tensors, weights.source)
                                     : parse_kl_config(weights.config_json, weights.source + "/config.json");
}

bool KlVae::keeps_norm_layout(c10::ScalarType dtype) const {
  return compute_.channels_last && services_.device.is_cuda() && host_keeps_norm_layout(services_, dtype);
}

void* KlVae::extension(const char* id) {
  if (id && std::string_view(id) == SDXL_VAE_SIZING_EXTENSION) return static_cast<sdk::VaeSizing*>(this);
  return nullptr;
}

sdk::Status KlVae::size_for(const sdk::WeightSet& weights) {
  return sdk::guard("vae kl size_for", [&]() -> sdk::Status {
    auto config = config_of(weights);
    if (!config.ok()) return config.status();
    nhwc_norms_ = keeps_norm_layout(compute_dtype_for(config->force_upcast));
    sized_config_ = std::move(config).value();
    return sdk::Status::Ok();
  });
}

sdk::Status KlVae::load(const sdk::WeightSet& weights) {
  return sdk::guard("vae kl load", [&]() -> sdk::Status {
    auto config = config_of(weights);
    if (!config.ok()) return config.status();
    source_ = weights.source;
    const auto dtype = compute_dtype_for(config->force_upcast);
    auto model = KlModel::bind(*config, *weights.tensors, weights.source, services_.device, dtype, compute_);
    if (!model.ok()) return model.status();
    model_ = std::move(model).value();
    sized_config_.reset();
    nhwc_norms_ = keeps_norm_layout(dtype);
    if (!config->from_config_json) {
      services_.log(sdk::LogLevel::info, "vae kl: no config.json for '" + weights.source +
                                             "'; architecture inferred from tensor shapes, scaling_factor " +
                                             std::to_string(config->scaling_factor));
    }
    return sdk::Status::Ok();
  });
}

sdk::VaeInfo KlVae::info() const {
  sdk::VaeInfo i;
  if (model_) {
    const auto& c = model_->config();
    i.latent_channels = c.latent_channels;
    i.scaling_factor = c.scaling_factor;
    i.shift_factor = c.shift_factor;
    i.downscale = c.downscale();
  }
  return i;
}

sdk::Result<at::Tensor> KlVae::run_sliced_tiled(const at::Tensor& input, std::int64_t in_scale,
                                                std::int64_t out_scale,
                                                const std::function<at::Tensor(const at::Tensor&)>& fn,
                                                sdk::JobContext* job, const char* what) {
  const std::int64_t slices = slice_batch_ ? input.size(0) : 1;
  const std::int64_t per_slice = slice_batch_ ? 1 : input.size(0);
  std::vector<at::Tensor> outs;
  for (std::int64_t s = 0; s < slices; ++s) {
    if (job && job->cancelled()) return sdk::Status(sdk::StatusCode::cancelled, std::string("vae kl ") + what + " cancelled");
    at::Tensor part = input.slice(0, s * per_slice, (s + 1) * per_slice);
    const bool fits = part.size(2) / in_scale <= tile_height_ && part.size(3) / in_scale <= tile_width_;
    if (!tiling_ || fits) {
      outs.push_back(fn(part).to(at::kFloat));
      if (job) job->progress(s + 1, slices);
      continue;
    }
    vae_tiling::TileSettings ts{tile_height_, tile_width_, tile_overlap_, in_scale, out_scale};
    auto tiled = vae_tiling::run_tiled(part, ts, fn, [&](std::int64_t done, std::int64_t total) -> sdk::Status {
      if (job) {
        job->progress(s * total + done, slices * total);
        if (job->cancelled()) return sdk::Status(sdk::StatusCode::cancelled, std::string("vae kl ") + what + " cancelled");
      }
      return sdk::Status::Ok();
    });
    if (!tiled.ok()) return tiled.status();
    outs.push_back(std::move(tiled).value());
  }
  return outs.size() == 1 ? outs[0] : at::cat(outs, 0);
}

sdk::Result<at::Tensor> KlVae::encode_moments(const at::Tensor& images, sdk::JobContext* job) {
  return sdk::guard("vae kl encode", [&]() -> sdk::Result<at::Tensor> {
    if (!model_) return sdk::invalid_argument("vae kl: encode called before load()");
    if (!model_->has_encoder()) return sdk::unsupported("vae kl: '" + source_ + "' has no encoder weights");
    const auto& c = model_->config();
    const auto f = c.downscale();
    if (!images.defined() || images.dim() != 4) {
      return sdk::invalid_argument("vae kl encode: images must be [N, C, H, W], got " +
                                   (images.defined() ? sdk::shape_text(images.sizes()) : std::string("an undefined tensor")));
    }
    if (images.size(1) != c.in_channels) {
      return sdk::invalid_argument("vae kl encode: images have " + std::to_string(images.size(1)) +
                                   " channels but VAE '" + source_ + "' expects " + std::to_string(c.in_channels));
    }
    if (images.size(2) % f != 0 || images.size(3) % f != 0 || images.size(2) == 0 || images.size(3) == 0) {
      return sdk::invalid_argument("vae kl encode: image size " + std::to_string(images.size(2)) + "x" +
                                   std::to_string(images.size(3)) + " is not a positive multiple of " + std::to_string(f));
    }
    if (!images.is_floating_point()) return sdk::invalid_argument("vae kl encode: images must be floating point in [-1, 1]");
    c10::NoGradGuard no_grad;
    at::Tensor x = images.to(model_->device(), model_->dtype());
    return run_sliced_tiled(x, f, 1, [&](const at::Tensor& t) { return model_->encode_moments(t); }, job, "encode");
  });
}

sdk::Result<at::Tensor> KlVae::encode(const at::Tensor& images, sdk::NoiseSource* noise, sdk::JobContext* job) {
  auto moments = encode_moments(images, job);
  if (!moments.ok()) return moments.status();
  return sdk::guard("vae kl encode", [&]() -> sdk::Result<at::Tensor> {
    const auto& c = model_->config();
    at::Tensor m = moments.value();  // [N, 2C, h, w] float32
    at::Tensor mean = m.slice(1, 0, c.latent_channels);
    at::Tensor z = mean;
    if (noise) {
      // DiagonalGaussianDistribution.sample(): mean + exp(0.5 * clamp(logvar, -30, 20)) * n
      at::Tensor std_dev = at::exp(m.slice(1, c.latent_channels, 2 * c.latent_channels).clamp(-30.0, 20.0) * 0.5);
      at::Tensor n = noise->randn(mean.sizes(), at::kFloat, mean.device());
      if (n.sizes() != mean.sizes()) {
        return sdk::internal_error("vae kl encode: noise source returned " + sdk::shape_text(n.sizes()) +
                                   ", asked for " + sdk::shape_text(mean.sizes()));
      }
      z = mean + std_dev * n.to(mean.device(), at::kFloat);
    }
    return ((z - c.shift_factor) * c.scaling_factor).contiguous();
  });
}

sdk::Result<at::Tensor> KlVae::decode(const at::Tensor& latents, sdk::JobContext* job) {
  return sdk::guard("vae kl decode", [&]() -> sdk::Result<at::Tensor> {
    if (!model_) return sdk::invalid_argument("vae kl: decode called before load()");
    const auto& c = model_->config();
    if (!latents.defined() || latents.dim() != 4) {
      return sdk::invalid_argument("vae kl decode: latents must be [N, C, h, w], got " +
                                   (latents.defined() ? sdk::shape_text(latents.sizes()) : std::string("an undefined tensor")));
    }
    if (latents.size(1) != c.latent_channels) {
      return sdk::invalid_argument("vae kl decode: latents have " + std::to_string(latents.size(1)) +
                                   " channels but VAE '" + source_ + "' expects " + std::to_string(c.latent_channels) +
                                   " latent channels");
    }
    if (latents.size(0) == 0 || latents.size(2) == 0 || latents.size(3) == 0) {
      return sdk::invalid_argument("vae kl decode: empty latents " + sdk::shape_text(latents.sizes()));
    }
    if (!latents.is_floating_point()) return sdk::invalid_argument("vae kl decode: latents must be floating point");
    c10::NoGradGuard no_grad;
    // UNet space -> VAE space: z / scaling_factor + shift_factor (in float32, then cast).
    at::Tensor z = (latents.to(at::kFloat) / c.scaling_factor + c.shift_factor).to(model_->device(), model_->dtype());
    return run_sliced_tiled(z, 1, c.downscale(), [&](const at::Tensor& t) { return model_->decode(t); }, job, "decode");
  });
}

std::uint64_t KlVae::estimate_decode_bytes(at::IntArrayRef shape) const {
  if (shape.size() != 4) return 0;
  const KlConfig config = estimated_config();
  const auto dtype = compute_dtype();
  const auto device = model_ ? model_->device() : services_.device;
  DecodePlan plan;
  plan.batch = shape[0];
  plan.height = shape[2];
  plan.width = shape[3];
  plan.slice_batch = slice_batch_;
  plan.tiling = tiling_;
  plan.tile_h = tile_height_;
  plan.tile_w = tile_width_;
  plan.overlap = tile_overlap_;
  plan.element_bytes = static_cast<std::int64_t>(c10::elementSize(dtype));
  plan.subpixel_upsample = compute_.subpixel_upsample;
  if (model_) plan.max_score_elements = model_->max_score_elements;
  plan.conv_workspace = conv_workspace_for(device);
  plan.norm_layout_copies = compute_.channels_last && device.is_cuda() && !nhwc_norms_;
  return estimate_decode_peak(config, plan);
}

}  // namespace sdxl::vae_kl
