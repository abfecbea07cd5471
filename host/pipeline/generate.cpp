#include "pipeline/generate.h"

#include <ATen/ATen.h>

#include <chrono>

#include "pipeline/decode.h"
#include "pipeline/handoff.h"
#include "pipeline/preview.h"
#include "schedulers/auto_sampler.h"
#include "schedulers/diffusers_config.h"
#include "util/logging.h"
#include "schedulers/sampling_params.h"

namespace sdxl::pipeline {

sdk::Status validate_request(const GenerateRequest& req) {
  if (req.width < 8 || req.height < 8 || req.width % 8 != 0 || req.height % 8 != 0)
    return sdk::invalid_argument("width and height must be positive multiples of 8 (got " + std::to_string(req.width) +
                                 "x" + std::to_string(req.height) + ")");
  if (auto st = schedulers::validate_steps(req.steps); !st.ok()) return st;
  if (!(req.guidance >= 0)) return sdk::invalid_argument("guidance (cfg) must be >= 0");
  if (!req.guidance_per_image.empty() && req.guidance_per_image.size() != req.prompts.prompts.size())
    return sdk::invalid_argument("guidance_per_image: one scale per image expected");
  for (double g : req.guidance_per_image)
    if (!(g >= 0)) return sdk::invalid_argument("guidance (cfg) must be >= 0");
  if (req.guidance_rescale < 0 || req.guidance_rescale > 1) return sdk::invalid_argument("guidance_rescale must be in [0, 1]");
  if (req.init_image.defined())
    if (auto st = schedulers::validate_strength(req.strength); !st.ok()) return st;
  if (req.mask.defined() && !req.init_image.defined()) return sdk::invalid_argument("a mask needs an init image");
  if (req.mask.defined() && (req.mask.dim() != 4 || req.mask.size(1) != 1 || req.mask.size(2) != req.height ||
                             req.mask.size(3) != req.width))
    return sdk::invalid_argument("the mask must be one channel of the image's size (" + std::to_string(req.width) + "x" +
                                 std::to_string(req.height) + ")");
  if (req.prompts.prompts.empty()) return sdk::invalid_argument("no prompt");
  if (!(req.denoising_end > 0 && req.denoising_end <= 1)) return sdk::invalid_argument("denoising_end must be in (0, 1]");
  if (!(req.denoising_start >= 0 && req.denoising_start < 1))
    return sdk::invalid_argument("denoising_start must be in [0, 1)");
  if (req.denoising_start > 0 && !req.init_latents.defined())
    return sdk::invalid_argument("denoising_start needs the latents handed over from the base model");
  if (req.denoising_start > 0 && (req.init_image.defined() || req.mask.defined()))
    return sdk::invalid_argument("denoising_start continues from latents: no init image or mask");
  for (std::size_t i = 0; i < req.controls.size(); ++i) {
    const auto& c = req.controls[i];
    if (!c.model || !c.image.defined() || c.image.dim() != 4 || c.image.size(0) != 1 || c.image.size(1) != 3)
      return sdk::invalid_argument("control unit " + std::to_string(i) + ": no model or no [1,3,H,W] control image");
    if (c.image.size(2) != req.height || c.image.size(3) != req.width)
      return sdk::invalid_argument("control unit " + std::to_string(i) + ": control image is " +
                                   std::to_string(c.image.size(3)) + "x" + std::to_string(c.image.size(2)) +
                                   ", the request " + std::to_string(req.width) + "x" + std::to_string(req.height));
  }
  return {};
}

namespace {

sdk::Result<std::unique_ptr<sdk::Scheduler>> make_scheduler(const SdxlModel& model, const plugins::PluginRegistry& reg,
                                                            const std::string& sampler,
                                                            const schedulers::AutoHints& auto_hints, std::string& chosen) {
  if (sampler == "auto") {  // chosen from the model (and, once LoRAs are applied, their metadata)
    schedulers::AutoHints hints = auto_hints;
    hints.scheduler_config = model.scheduler_config;
    auto pick = schedulers::choose_auto_sampler(hints);
    if (!pick.ok()) return pick.status();
    util::log_info("sampler auto: " + pick.value().choice.feature + " (" + pick.value().reason + ")");
    chosen = pick.value().choice.feature;
    const auto* f = reg.find(sdk::FeatureKind::scheduler, chosen);
    if (!f) return reg.create_scheduler(chosen);
    auto fitted = schedulers::fit_to_schema(pick.value().choice.options, f->info.options, chosen);
    if (!fitted.ok()) return fitted.status();
    return reg.create_scheduler(chosen, &fitted.value());
  }
  // The model's own scheduler config supplies the training schedule (betas, prediction type…);
  // an explicit sampler name picks the algorithm on top of it.
  auto own = schedulers::from_diffusers_config(model.scheduler_config);
  if (!own.ok() && sampler.empty()) return own.status();
  chosen = sampler.empty() ? own.value().feature : sampler;
  const auto* feature = reg.find(sdk::FeatureKind::scheduler, chosen);
  if (!feature) return reg.create_scheduler(chosen);  // the registry's "unknown …; available: …"
  chosen = feature->info.name;
  sdk::Options overrides;
  if (own.ok()) {
    auto fitted = schedulers::fit_to_schema(own.value().options, feature->info.options, chosen);
    if (!fitted.ok()) return fitted.status();
    // An explicit sampler keeps its own sampling options (karras etc.): take only the
    // training-schedule keys from the model.
    for (const auto& [k, v] : fitted.value().all()) {
      static const std::set<std::string> training = {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule",
                                                     "prediction_type", "timestep_spacing", "steps_offset"};
      if (sampler.empty() || training.count(k)) overrides.set(k, v);
    }
  }
  return reg.create_scheduler(chosen, &overrides);
}

// [orig_h, orig_w, crop_top, crop_left, target_h, target_w] from (h, w) pairs, with fallbacks.
at::Tensor time_ids(const std::vector<double>& orig, const std::vector<double>& crop, const std::vector<double>& target,
                    const std::vector<double>& orig_default, const std::vector<double>& crop_default,
                    const std::vector<double>& target_default) {
  auto pick = [](const std::vector<double>& v, const std::vector<double>& d) { return v.size() == 2 ? v : d; };
  const auto o = pick(orig, orig_default), c = pick(crop, crop_default), t = pick(target, target_default);
  return at::tensor({o[0], o[1], c[0], c[1], t[0], t[1]}, at::kFloat);
}

}  // namespace

sdk::Result<GenerateResult> generate(SdxlModel& model, const plugins::PluginRegistry& registry,
                                     const GenerateRequest& req, const JobHooks& hooks) {
  if (auto st = validate_request(req); !st.ok()) return st;
  if (!hooks.noise) return sdk::invalid_argument("generate: no noise source");
  const std::int64_t batch = static_cast<std::int64_t>(req.prompts.prompts.size());
  if (model.unet->config().in_channels == 9 && !req.mask.defined())
    return sdk::invalid_argument("this is an inpainting UNet (9 input channels): it needs an init image and a mask");
  const auto latent_channels = model.vae->info().latent_channels;
  const std::int64_t lh = req.height / model.vae->info().downscale, lw = req.width / model.vae->info().downscale;

  GenerateResult result;
  auto scheduler = make_scheduler(model, registry, req.sampler, req.auto_hints, result.sampler);
  if (!scheduler.ok()) return scheduler.status();
  auto& s = *scheduler.value();
  if (auto st = s.set_timesteps(req.steps); !st.ok()) return st;
  const std::int64_t train_timesteps = model.scheduler_config.value("num_train_timesteps", 1000);
  if (req.denoising_start > 0)
    if (auto skipped = apply_denoising_start(s, req.denoising_start, train_timesteps); !skipped.ok())
      return skipped.status();

  PromptInput prompts = req.prompts;
  prompts.force_zeros_for_empty_prompt = model.force_zeros_for_empty_prompt;
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  auto t_text = Clock::now();
  auto cond = encode_prompts(model.tokenizers, *model.text, prompts);
  result.seconds.text = since(t_text);
  if (!cond.ok()) return cond.status();
  if (hooks.sink && *hooks.sink) {
    (*hooks.sink)("prompt.prompt_embeds", cond.value().prompt_embeds);
    (*hooks.sink)("prompt.pooled", cond.value().pooled);
    (*hooks.sink)("negative.prompt_embeds", cond.value().negative_embeds);
    (*hooks.sink)("negative.pooled", cond.value().negative_pooled);
  }

  at::Tensor latents;
  InpaintInputs inpaint;
  if (req.init_image.defined()) {
    if (req.init_image.size(2) != req.height || req.init_image.size(3) != req.width)
      return sdk::invalid_argument("init image is " + std::to_string(req.init_image.size(3)) + "x" +
                                   std::to_string(req.init_image.size(2)) + ", the request " + std::to_string(req.width) +
                                   "x" + std::to_string(req.height));
    at::Tensor image = req.init_image.size(0) == batch ? req.init_image : req.init_image.expand({batch, -1, -1, -1});
    auto t_enc = Clock::now();
    auto encoded = model.vae->encode(image.to(at::kFloat).contiguous(), hooks.noise, nullptr);
    result.seconds.vae += since(t_enc);
    if (!encoded.ok()) return encoded.status();
    auto t_start = schedulers::apply_img2img_strength(s, req.steps, req.strength);
    if (!t_start.ok()) return t_start.status();
    at::Tensor noise = req.initial_noise.defined() ? req.initial_noise
                                                   : hooks.noise->randn({batch, latent_channels, lh, lw}, at::kFloat, at::kCPU);
    const at::Tensor clean = encoded.value().to(at::kFloat).cpu();
    if (req.mask.defined() && req.strength >= 1.0) {
      latents = noise.to(at::kFloat) * s.init_noise_sigma();  // diffusers: full strength starts from noise
    } else {
      auto noisy = s.add_noise(clean, noise.to(at::kFloat), 0);
      if (!noisy.ok()) return noisy.status();
      latents = noisy.value();
    }
    if (req.mask.defined()) {
      at::Tensor m = (req.mask.to(at::kFloat) >= 0.5).to(at::kFloat);  // binarised as diffusers does
      if (m.size(0) != batch) m = m.expand({batch, -1, -1, -1});
      inpaint.mask = at::upsample_nearest2d(m, {lh, lw});
      inpaint.image_latents = clean;
      inpaint.noise = noise;
      if (model.unet->config().in_channels == 9) {
        auto masked = model.vae->encode((image.to(at::kFloat) * (m < 0.5).to(at::kFloat)).contiguous(), hooks.noise, nullptr);
        if (!masked.ok()) return masked.status();
        inpaint.masked_image_latents = masked.value().to(at::kFloat).cpu();
      }
    }
  } else if (req.denoising_start > 0) {  // refiner: continue the base's latents as they are
    if (req.init_latents.dim() != 4 || req.init_latents.size(1) != latent_channels || req.init_latents.size(2) != lh ||
        req.init_latents.size(3) != lw)
      return sdk::invalid_argument("handed-over latents do not match the request's size and latent channels");
    latents = req.init_latents.to(at::kFloat).cpu();
    if (latents.size(0) != batch) latents = latents.expand({batch, -1, -1, -1}).contiguous();
  } else {
    at::Tensor noise = req.initial_noise.defined() ? req.initial_noise
                                                   : hooks.noise->randn({batch, latent_channels, lh, lw}, at::kFloat, at::kCPU);
    latents = noise.to(at::kFloat) * s.init_noise_sigma();
  }
  if (hooks.sink && *hooks.sink) (*hooks.sink)("latents_init", latents);

  DenoiseRequest d;
  d.unet = model.unet.get();
  d.scheduler = &s;
  d.noise = hooks.noise;
  d.latents = latents;
  d.cond = &cond.value();
  const std::vector<double> hw = {static_cast<double>(req.height), static_cast<double>(req.width)};
  const auto pos_or = [](const std::vector<double>& v, const std::vector<double>& d) { return v.size() == 2 ? v : d; };
  const auto orig = pos_or(req.original_size, hw), crop = pos_or(req.crop_top_left, {0, 0}),
             target = pos_or(req.target_size, hw);
  d.time_ids = time_ids(orig, crop, target, hw, {0, 0}, hw);
  d.negative_time_ids = time_ids(req.negative_original_size, req.negative_crop_top_left, req.negative_target_size,
                                 orig, crop, target);
  if (unet_time_id_count(model.unet->config(), cond.value().pooled.size(1)) == 5) {
    // The refiner: [orig h, w, crop top, left, aesthetic score] (the target size is not an input).
    auto aesthetic = [](const at::Tensor& ids, double score) {
      return at::cat({ids.slice(0, 0, 4), at::tensor({score}, at::kFloat)});
    };
    d.time_ids = aesthetic(d.time_ids, req.aesthetic_score);
    d.negative_time_ids = aesthetic(d.negative_time_ids, req.negative_aesthetic_score);
  }
  if (req.denoising_end < 1) {
    auto calls = calls_until_denoising_end(s, req.denoising_end, train_timesteps);
    if (!calls.ok()) return calls.status();
    d.max_calls = calls.value();
  }
  d.guidance = req.guidance;
  d.guidance_per_image = req.guidance_per_image;
  d.guidance_rescale = req.guidance_rescale;
  d.progress = hooks.progress;
  d.cancelled = hooks.cancelled;
  d.sink = hooks.sink;
  d.inpaint = req.mask.defined() ? &inpaint : nullptr;
  d.unet_seconds = &result.seconds.unet;
  if (cuda_graphs_enabled()) d.unet_graphs = model.unet_graphs.get();
  if (!req.controls.empty()) {
    d.control = make_control_step(req.controls);
    d.control_seconds = &result.seconds.controlnet;
  }
  if (hooks.preview && hooks.preview_every > 0) {
    d.preview_every = hooks.preview_every;
    d.preview = [&](std::int64_t call, const at::Tensor& denoised) {
      hooks.preview(call, make_preview(denoised, hooks.preview_decoder));
    };
  }
  auto t_loop = Clock::now();
  auto final_latents = denoise(d);
  result.seconds.denoise = since(t_loop);
  if (!final_latents.ok()) return final_latents.status();
  result.latents = final_latents.value();
  if (hooks.sink && *hooks.sink) (*hooks.sink)("latents_final", result.latents);
  if (!req.decode) return result;

  auto images = decode_latents(model, registry, result.latents, &result.seconds.vae);
  if (!images.ok()) return images.status();
  result.images = images.value();
  if (hooks.sink && *hooks.sink) (*hooks.sink)("image", result.images);
  return result;
}

at::Tensor to_uint8_images(const at::Tensor& images) {
  at::Tensor x = (images.to(at::kFloat) / 2 + 0.5).clamp(0, 1);
  return (x * 255).round().to(at::kByte).permute({0, 2, 3, 1}).contiguous();
}

at::Tensor from_uint8_image(const at::Tensor& pixels) {
  at::Tensor x = pixels.slice(2, 0, 3).to(at::kFloat).permute({2, 0, 1}).unsqueeze(0);
  return (x / 127.5 - 1.0).contiguous();
}

}  // namespace sdxl::pipeline
