#include "server/batch.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cstdio>

#include "pipeline/conditioning.h"
#include "pipeline/decode.h"

namespace sdxl::server {

RowSeedNoise::RowSeedNoise(const std::vector<std::uint64_t>& seeds) {
  for (auto s : seeds) gens_.push_back(at::make_generator<at::CPUGeneratorImpl>(s));
  if (gens_.empty()) gens_.push_back(at::make_generator<at::CPUGeneratorImpl>(0));
}

at::Tensor RowSeedNoise::randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) {
  const auto opts = at::TensorOptions().dtype(dtype);
  const auto rows = static_cast<std::int64_t>(gens_.size());
  if (shape.empty() || shape[0] != rows || rows == 1) return at::randn(shape, gens_[0], opts).to(device);
  std::vector<std::int64_t> row(shape.begin(), shape.end());
  row[0] = 1;
  std::vector<at::Tensor> parts;
  for (auto& g : gens_) parts.push_back(at::randn(row, g, opts));
  return at::cat(parts).to(device);
}

std::string batch_shape_key(const BatchShape& s, const BatchJob& job, const std::string& prompt_shape) {
  char rescale[32];
  std::snprintf(rescale, sizeof(rescale), "%.17g", s.guidance_rescale);
  return std::to_string(s.width) + "x" + std::to_string(s.height) + "|steps=" + std::to_string(s.steps) +
         "|sampler=" + s.sampler + "|rescale=" + rescale + "|prompt=" + prompt_shape +
         "|negative=" + (job.negative.empty() ? "none" : "some") + "|cfg=" + (job.cfg > 1.0 ? "on" : "off");
}

sdk::Result<std::string> batch_prompt_shape(const pipeline::SdxlModel& model, const BatchJob& job) {
  std::size_t windows = 1;
  bool weighted = false;
  for (const auto* text : {&job.prompt, &job.negative}) {
    auto chunks = pipeline::a1111_chunks(*model.tokenizers.tokenizer_1, *text);
    if (!chunks.ok()) return chunks.status();
    windows = std::max(windows, chunks.value().size());
    for (const auto& c : chunks.value())
      for (double w : c.weights) weighted = weighted || w != 1.0;
  }
  return std::to_string(windows) + (weighted ? ",weighted" : ",plain");
}

namespace {

// One UNet batch, denoised only (all rows at once).
sdk::Result<BatchResult> denoise_rows(pipeline::SdxlModel& model, const plugins::PluginRegistry& registry,
                                      const BatchShape& shape, const std::vector<BatchJob>& jobs, const BatchHooks& hooks) {
  if (jobs.empty()) return sdk::invalid_argument("run_batch: no jobs");
  if (jobs.size() > 1 && shape.init_image.defined()) return sdk::invalid_argument("run_batch: img2img jobs run alone");
  if (jobs.size() > 1 && !shape.controls.empty()) return sdk::invalid_argument("run_batch: ControlNet jobs run alone");
  pipeline::GenerateRequest req;
  req.width = shape.width;
  req.height = shape.height;
  req.steps = shape.steps;
  req.sampler = shape.sampler;
  req.auto_hints = shape.auto_hints;
  req.guidance_rescale = shape.guidance_rescale;
  req.init_image = shape.init_image;
  req.mask = shape.mask;
  req.strength = shape.strength;
  req.controls = shape.controls;
  req.prompts.mode = pipeline::PromptMode::a1111;
  std::vector<std::uint64_t> seeds;
  const bool negatives = !jobs.front().negative.empty();
  for (const auto& j : jobs) {
    for (std::int64_t i = 0; i < j.images; ++i) {
      req.prompts.prompts.push_back(j.prompt);
      if (negatives) req.prompts.negatives.push_back(j.negative);
      req.guidance_per_image.push_back(j.cfg);
      seeds.push_back(static_cast<std::uint64_t>(j.seed + i));
    }
  }
  // One job: its scalar CFG, exactly the `sdxl generate` path.
  if (jobs.size() == 1) {
    req.guidance = jobs.front().cfg;
    req.guidance_per_image.clear();
  }
  RowSeedNoise noise(seeds);
  pipeline::JobHooks h;
  h.noise = &noise;
  h.progress = hooks.progress;
  h.cancelled = hooks.cancelled;
  h.preview_every = hooks.preview_every;
  h.preview = hooks.preview;
  req.decode = false;  // decode_batch does it, possibly on another thread
  auto out = pipeline::generate(model, registry, req, h);
  if (!out.ok()) return out.status();
  BatchResult r;
  r.sampler = out.value().sampler;
  r.seconds = out.value().seconds;
  r.latents = out.value().latents;
  return r;
}

}  // namespace

sdk::Result<BatchResult> run_batch(pipeline::SdxlModel& model, const plugins::PluginRegistry& registry,
                                   const BatchShape& shape, const std::vector<BatchJob>& jobs, const BatchHooks& hooks) {
  return run_batch_chunked(model, registry, shape, jobs, hooks, 0);
}

sdk::Result<BatchResult> run_batch_chunked(pipeline::SdxlModel& model, const plugins::PluginRegistry& registry,
                                           const BatchShape& shape, const std::vector<BatchJob>& jobs,
                                           const BatchHooks& hooks, std::int64_t max_rows) {
  auto out = denoise_batch(model, registry, shape, jobs, hooks, max_rows);
  if (!out.ok()) return out.status();
  if (auto st = decode_batch(model, registry, jobs, max_rows, out.value()); !st.ok()) return st;
  return out;
}

sdk::Status decode_batch(pipeline::SdxlModel& model, const plugins::PluginRegistry& registry,
                         const std::vector<BatchJob>& jobs, std::int64_t max_rows, BatchResult& result) {
  const std::int64_t rows = result.latents.size(0);
  std::int64_t job_rows = 0;
  for (const auto& j : jobs) job_rows += j.images;
  if (job_rows != rows)
    return sdk::internal_error("decode_batch: the jobs have " + std::to_string(job_rows) + " images, the latents " +
                               std::to_string(rows) + " rows");
  const std::int64_t step = max_rows > 0 ? max_rows : rows;
  std::vector<at::Tensor> decoded;
  for (std::int64_t first = 0; first < rows; first += step) {
    auto pictures = pipeline::decode_latents(model, registry, result.latents.slice(0, first, std::min(rows, first + step)),
                                             &result.seconds.vae);
    if (!pictures.ok()) return pictures.status();
    decoded.push_back(pipeline::to_uint8_images(pictures.value()));  // [rows, H, W, 3]
  }
  const at::Tensor pixels = decoded.size() == 1 ? decoded.front() : at::cat(decoded);
  result.images.clear();
  std::int64_t row = 0;
  for (const auto& j : jobs) {
    result.images.push_back(pixels.slice(0, row, row + j.images));
    row += j.images;
  }
  return {};
}

sdk::Result<BatchResult> denoise_batch(pipeline::SdxlModel& model, const plugins::PluginRegistry& registry,
                                       const BatchShape& shape, const std::vector<BatchJob>& jobs,
                                       const BatchHooks& hooks, std::int64_t max_rows) {
  std::int64_t rows = 0;
  for (const auto& j : jobs) rows += j.images;
  if (max_rows <= 0 || rows <= max_rows) return denoise_rows(model, registry, shape, jobs, hooks);

  // Chunks of at most max_rows consecutive rows (a job's images may span two).
  std::vector<std::vector<BatchJob>> chunks(1);
  std::int64_t filled = 0;
  for (std::size_t k = 0; k < jobs.size(); ++k) {
    std::int64_t left = jobs[k].images, seed = jobs[k].seed;
    while (left > 0) {
      if (filled == max_rows) {
        chunks.emplace_back();
        filled = 0;
      }
      BatchJob part = jobs[k];
      part.seed = seed;
      part.images = std::min(left, max_rows - filled);
      chunks.back().push_back(part);
      seed += part.images;
      left -= part.images;
      filled += part.images;
    }
  }

  BatchResult all;
  std::vector<at::Tensor> latents;
  const auto n = static_cast<std::int64_t>(chunks.size());
  for (std::int64_t c = 0; c < n; ++c) {
    BatchHooks h;
    h.cancelled = hooks.cancelled;
    if (hooks.progress)
      h.progress = [&hooks, c, n](std::int64_t done, std::int64_t total) { hooks.progress(c * total + done, n * total); };
    auto out = denoise_rows(model, registry, shape, chunks[c], h);
    if (!out.ok()) return out.status();
    latents.push_back(out.value().latents);
    all.sampler = out.value().sampler;
    all.seconds.text += out.value().seconds.text;
    all.seconds.denoise += out.value().seconds.denoise;
    all.seconds.unet += out.value().seconds.unet;
    all.seconds.controlnet += out.value().seconds.controlnet;
    all.seconds.vae += out.value().seconds.vae;
  }
  all.latents = at::cat(latents);
  return all;
}

}  // namespace sdxl::server
