#pragma once
// Cross-request batching: several jobs' images denoised in one UNet batch.
//
// Rows: job k contributes `images` rows with seeds seed_k, seed_k + 1, …; row r draws all its noise
// from its own CPU generator (RowSeedNoise), prompts and CFG scales are per row (the denoiser
// guides each row with its own scale), so every image equals the one its job gives alone — the
// same seed convention as `sdxl generate` (noise::PerImageNoise), whatever its batch mates.
//
// What must be shared (BatchShape): size, steps, sampler, guidance rescale, and the parts of the
// prompt encoding that the whole batch shares — the number of 75-token windows, whether negatives
// are empty (SDXL zeroes the negative conditioning of a batch without negatives) and whether
// CFG runs. batch_shape_key() captures exactly that; jobs with equal keys can share a batch.
//
// Thread rules: one batch at a time per model (the orchestrator's worker).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pipeline/generate.h"
#include "sdxl/sdk/host_services.h"

namespace sdxl::server {

/// Noise for a batch whose rows have arbitrary seeds: a draw whose first dimension equals the row
/// count takes row r from generator r; any other draw comes from row 0's generator (as
/// noise::PerImageNoise, which this equals when the seeds are consecutive).
class RowSeedNoise final : public sdk::NoiseSource {
 public:
  explicit RowSeedNoise(const std::vector<std::uint64_t>& seeds);
  at::Tensor randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) override;

 private:
  std::vector<at::Generator> gens_;
};

/// One job's part of a batch.
struct BatchJob {
  std::string prompt;    ///< as encoded (LoRA tags already removed)
  std::string negative;
  std::int64_t seed = 0;    ///< first seed; image i uses seed + i
  std::int64_t images = 1;
  double cfg = 5.0;
};

/// What the jobs of a batch share.
struct BatchShape {
  std::int64_t width = 1024, height = 1024, steps = 30;
  std::string sampler;
  double guidance_rescale = 0.0;
  schedulers::AutoHints auto_hints;
  // Single jobs only (never batched): img2img / inpaint.
  at::Tensor init_image;  ///< [1, 3, H, W] in [-1, 1]
  at::Tensor mask;        ///< [1, 1, H, W] in [0, 1]
  double strength = 0.8;
  /// Single jobs only: ControlNet units, loaded for this model (pictures at width x height).
  std::vector<pipeline::ControlUnit> controls;
};

/// Key of everything the batch must share; jobs with equal keys may be batched. `prompt_shape`
/// comes from batch_prompt_shape.
std::string batch_shape_key(const BatchShape& shape, const BatchJob& job, const std::string& prompt_shape);
/// The prompt encoding's batch-wide choices for this job, from the model's tokenizer (A1111 mode):
/// the number of 75-token windows of its longer prompt, and whether any emphasis weight differs
/// from 1 (a batch where none does skips the emphasis rescale).
sdk::Result<std::string> batch_prompt_shape(const pipeline::SdxlModel& model, const BatchJob& job);

struct BatchHooks {
  std::function<void(std::int64_t done, std::int64_t total)> progress;
  std::function<bool()> cancelled;  ///< true: stop between steps (every job of the batch gave up)
  std::int64_t preview_every = 0;
  std::function<void(std::int64_t call, const at::Tensor& pictures)> preview;  ///< uint8 [rows, H, W, 3]
};

struct BatchResult {
  std::vector<at::Tensor> images;  ///< per job: uint8 [images, H, W, 3]
  at::Tensor latents;              ///< [rows, 4, h, w] float32, final (all jobs, in order)
  std::string sampler;             ///< the scheduler feature that ran
  pipeline::GenerateResult::Times seconds;
};

sdk::Result<BatchResult> run_batch(pipeline::SdxlModel& model, const plugins::PluginRegistry& registry,
                                   const BatchShape& shape, const std::vector<BatchJob>& jobs, const BatchHooks& hooks);

/// run_batch with at most `max_rows` images denoised at once (the memory arbiter's reshape
/// advice; 0: all at once). The rows are split into consecutive chunks — a job's images may span
/// two — that run one after another; since every row draws its own noise and is guided by its own
/// scale, the result equals the unsplit run. Progress counts the chunks' steps end to end;
/// previews are not produced when the batch is split. Equals denoise_batch then decode_batch.
sdk::Result<BatchResult> run_batch_chunked(pipeline::SdxlModel& model, const plugins::PluginRegistry& registry,
                                           const BatchShape& shape, const std::vector<BatchJob>& jobs,
                                           const BatchHooks& hooks, std::int64_t max_rows);

/// The denoising half of run_batch_chunked: `latents` (on the CPU), sampler and seconds are set,
/// `images` is left empty for decode_batch.
sdk::Result<BatchResult> denoise_batch(pipeline::SdxlModel& model, const plugins::PluginRegistry& registry,
                                       const BatchShape& shape, const std::vector<BatchJob>& jobs,
                                       const BatchHooks& hooks, std::int64_t max_rows);

/// The decoding half: `result.latents` → `result.images` (per job), at most `max_rows` rows per
/// VAE call (0: all), adding the VAE's seconds. May run on another thread than the next
/// denoise_batch on the same model (pipeline/decode.h).
sdk::Status decode_batch(pipeline::SdxlModel& model, const plugins::PluginRegistry& registry,
                         const std::vector<BatchJob>& jobs, std::int64_t max_rows, BatchResult& result);

}  // namespace sdxl::server
