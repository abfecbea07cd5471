#include "pipeline/denoiser.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>

namespace sdxl::pipeline {
namespace {

at::Tensor rows(const at::Tensor& ids, std::int64_t batch) {
  at::Tensor t = ids.to(at::kFloat);
  return t.dim() == 1 ? t.unsqueeze(0).expand({batch, t.size(0)}) : t;
}

// diffusers rescale_noise_cfg: match the per-sample std of the guided prediction to the text one.
at::Tensor rescale(const at::Tensor& cfg, const at::Tensor& text, double phi) {
  std::vector<std::int64_t> dims;
  for (std::int64_t d = 1; d < cfg.dim(); ++d) dims.push_back(d);
  at::Tensor std_text = text.std(dims, /*unbiased=*/true, /*keepdim=*/true);
  at::Tensor std_cfg = cfg.std(dims, true, true);
  at::Tensor rescaled = cfg * (std_text / std_cfg);
  return phi * rescaled + (1.0 - phi) * cfg;
}

}  // namespace

sdk::Result<at::Tensor> denoise(const DenoiseRequest& req) {
  if (!req.unet || !req.scheduler || !req.noise || !req.cond) return sdk::invalid_argument("denoise: incomplete request");
  const auto& cond = *req.cond;
  const auto& unet = *req.unet;
  const std::int64_t batch = req.latents.size(0);
  if (cond.prompt_embeds.size(0) != batch) return sdk::invalid_argument("denoise: prompt rows differ from latent rows");
  const auto& per_row = req.guidance_per_image;
  if (!per_row.empty() && static_cast<std::int64_t>(per_row.size()) != batch)
    return sdk::invalid_argument("denoise: " + std::to_string(per_row.size()) + " guidance scales for " +
                                 std::to_string(batch) + " rows");
  const bool cfg = per_row.empty() ? req.guidance > 1.0
                                   : std::any_of(per_row.begin(), per_row.end(), [](double g) { return g > 1.0; });
  const auto dtype = unet.dtype();
  const auto device = unet.device();
  auto to_unet = [&](const at::Tensor& t) { return t.to(device, dtype); };

  // Conditioning for the whole loop: [neg; pos] with CFG, [pos] without.
  at::Tensor time_ids = rows(req.time_ids, batch);
  at::Tensor neg_ids = req.negative_time_ids.defined() ? rows(req.negative_time_ids, batch) : time_ids;
  models::UNetInputs in;
  in.encoder_hidden_states = to_unet(cfg ? at::cat({cond.negative_embeds, cond.prompt_embeds}) : cond.prompt_embeds);
  in.text_embeds = to_unet(cfg ? at::cat({cond.negative_pooled, cond.pooled}) : cond.pooled);
  in.time_ids = to_unet(cfg ? at::cat({neg_ids, time_ids}) : time_ids);
  // Every cross-attention's keys and values once for the loop: the context is the same at each
  // step (models/unet/cross_attention_kv.h). Not while the UNet is streamed block by block.
  if (!unet.block_observer()) {
    auto kv = unet.cross_attention_kv(in.encoder_hidden_states);
    if (!kv.ok()) return kv.status();
    in.context_kv = std::move(kv).value();
  }
  const auto& sink = req.sink;
  if (sink && *sink) {
    (*sink)("encoder_hidden_states", in.encoder_hidden_states);
    (*sink)("add_text_embeds", in.text_embeds);
    (*sink)("add_time_ids", in.time_ids);
  }

  // The latents stay on the UNet's device for the whole loop: the scheduler's arithmetic runs
  // there too, so on a GPU nothing waits for the device between calls and the host queues the
  // next call while the current one runs; the final latents come back once, at the end.
  // Every scheduler feature is checked to keep to its latents' device (device_placement_test).
  at::Tensor x = req.latents.to(device, at::kFloat);
  InpaintInputs inpaint;
  if (req.inpaint) {
    auto here = [&](const at::Tensor& t) { return t.defined() ? t.to(device, at::kFloat) : t; };
    inpaint = {here(req.inpaint->mask), here(req.inpaint->image_latents), here(req.inpaint->noise),
               here(req.inpaint->masked_image_latents)};
  }
  const at::Tensor timesteps = req.scheduler->timesteps();
  const std::int64_t calls =
      req.max_calls >= 0 ? std::min<std::int64_t>(req.max_calls, timesteps.size(0)) : timesteps.size(0);
  for (std::int64_t i = 0; i < calls; ++i) {
    if (req.cancelled && req.cancelled()) return sdk::Status(sdk::StatusCode::cancelled, "cancelled at step " + std::to_string(i));
    const std::string p = "step" + std::to_string(i) + ".";
    auto scaled = req.scheduler->scale_model_input(x, i);
    if (!scaled.ok()) return scaled.status();
    at::Tensor model_in = scaled.value();
    if (req.inpaint && unet.config().in_channels == 9)  // inpaint UNet: latents, mask, masked image
      model_in = at::cat({model_in, inpaint.mask, inpaint.masked_image_latents}, 1);
    at::Tensor sample = cfg ? at::cat({model_in, model_in}) : model_in;
    in.sample = to_unet(sample);
    in.timestep = timesteps[i].to(at::kFloat).expand({sample.size(0)}).to(device);
    if (req.control) {  // ControlNet units: same inputs as the UNet, residuals summed over active units
      const auto tc = std::chrono::steady_clock::now();
      auto residuals = req.control(i, calls, in);
      if (!residuals.ok()) return residuals.status();
      in.down_residuals = residuals.value().down;
      in.mid_residual = residuals.value().mid;
      if (req.control_seconds) {
        if (in.mid_residual.defined()) (void)in.mid_residual.to(at::kCPU);  // waits for the GPU
        *req.control_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - tc).count();
      }
      if (sink && *sink && residuals.value().any) {
        for (std::size_t k = 0; k < in.down_residuals.size(); ++k)
          (*sink)(p + "cn_down." + std::to_string(k), in.down_residuals[k]);
        (*sink)(p + "cn_mid", in.mid_residual);
      }
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto eps = req.unet_graphs ? req.unet_graphs->forward(unet, in) : unet.forward(in);
    if (!eps.ok()) return eps.status();
    at::Tensor e = eps.value().to(at::kFloat);
    // Host time: the UNet's compute on the CPU; on a GPU, whose calls are queued without waiting,
    // mostly the launches (the loop's total, which ends with a wait, is the figure to read there).
    if (req.unet_seconds) *req.unet_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    at::Tensor guided = e;
    if (cfg) {
      at::Tensor uncond = e.slice(0, 0, batch), text = e.slice(0, batch);
      if (per_row.empty()) {
        guided = uncond + req.guidance * (text - uncond);
        if (req.guidance_rescale > 0) guided = rescale(guided, text, req.guidance_rescale);
      } else {  // row by row with scalar scales: the same arithmetic as a batch of one
        std::vector<at::Tensor> guided_rows;
        for (std::int64_t r = 0; r < batch; ++r) {
          at::Tensor u = uncond.slice(0, r, r + 1), t = text.slice(0, r, r + 1);
          at::Tensor g = u + per_row[static_cast<std::size_t>(r)] * (t - u);
          guided_rows.push_back(req.guidance_rescale > 0 ? rescale(g, t, req.guidance_rescale) : g);
        }
        guided = at::cat(guided_rows);
      }
    }
    auto step = req.scheduler->step(guided, i, x, *req.noise);
    if (!step.ok()) return step.status();
    if (sink && *sink) {
      (*sink)(p + "latents_in", x);
      (*sink)(p + "unet_sample", sample);
      (*sink)(p + "unet_eps", e);
      (*sink)(p + "eps_cfg", guided);
      (*sink)(p + "latents_out", step.value().prev_sample);
    }
    if (req.preview && req.preview_every > 0 && (i + 1) % req.preview_every == 0) {
      const at::Tensor& d = step.value().denoised;
      req.preview(i, d.defined() ? d : step.value().prev_sample);
    }
    x = step.value().prev_sample;
    if (req.inpaint && unet.config().in_channels == 4) {
      // Keep the unmasked region: the clean latents at the noise level of the next call.
      at::Tensor kept = inpaint.image_latents;
      if (i + 1 < calls) {
        auto noisy = req.scheduler->add_noise(kept, inpaint.noise, i + 1);
        if (!noisy.ok()) return noisy.status();
        kept = noisy.value();
      }
      const at::Tensor& m = inpaint.mask;
      x = (1 - m) * kept + m * x;
    }
    if (req.progress) req.progress(i + 1, calls);
  }
  return x.to(at::kCPU);  // on a GPU, the loop's one wait
}

}  // namespace sdxl::pipeline
