#pragma once
// The job service behind the HTTP API: a queue with priorities and per-client fairness, one worker
// thread that owns the loaded model (and its LoRA set), cross-request batching, cancellation,
// timeouts and shutdown.
//
// Scheduling (see docs/server.md "Scheduling and batching"):
//  * highest priority first; among equal priorities, clients take turns (round robin), and each
//    client's jobs run in submission order;
//  * affinity: among the jobs allowed to run next, ones matching the loaded model and LoRA set go
//    first; the worker switches model/LoRAs only when no matching job waits or the oldest waiting
//    job has waited longer than `affinity_max_wait_s`;
//  * batching: queued jobs with the same model, LoRA set, size, steps, sampler, guidance rescale and
//    prompt shape (no init image, no ControlNet) are denoised in one UNet batch of up to
//    `max_batch` images, each with its own prompt, seed and CFG scale; results equal running them
//    one by one (tests/unit/server/orch_batching_test.cpp).
//
//  * overlapped decode (`overlap_decode`): the worker hands a denoised batch to a second thread
//    that decodes it with the VAE, encodes the PNGs and publishes the results, and starts
//    denoising the next job meanwhile; it waits for that thread before it changes the model or
//    its LoRA set. Memory stays booked: the decoding batch keeps its admission until its decode
//    ends, so the next job is admitted only if both fit (docs/server.md "Overlapped decode").
//
// Thread rules: every public method is thread-safe. Event callbacks run on the worker thread (the
// decoding thread for the results of an overlapped decode, or the caller's thread for events
// that submit/cancel produce) with no internal lock held, so they may call any method
// (unsubscribe included); they should be quick (they delay the worker).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "plugins/registry.h"
#include "server/job.h"
#include "server/job_state.h"

namespace sdxl::pipeline {
class SdxlModel;
struct ModelSpec;
}  // namespace sdxl::pipeline

namespace sdxl::memory {
class MemoryArbiter;
}  // namespace sdxl::memory

namespace sdxl::server {

/// What a job (or a batch of jobs) needs, for the memory arbiter's admission check.
struct AdmissionRequest {
  std::string label;        ///< "job 3" / "batch of jobs 3, 4" (logs)
  const pipeline::SdxlModel* model = nullptr;  ///< loaded, with its LoRA set applied
  std::int64_t images = 1;  ///< rows of the UNet batch (before CFG doubling)
  std::int64_t width = 0, height = 0;
  bool cfg = true;          ///< CFG doubles the UNet rows
  std::int64_t control_units = 0;  ///< ControlNet units run before every UNet call
  /// The VAE's decode peak with its smallest tiles for all images (0: it cannot tile), so the
  /// arbiter can plan a tiled decode instead of refusing.
  std::uint64_t vae_decode_tiled_bytes = 0;
  /// The model's components registered with the arbiter (OrchestratorOptions::arbiter set): the
  /// job pins them, and the arbiter may evict others (or bring these back) to make room.
  std::vector<std::string> components;
};

/// The answer: admitted (run, then call `release`), or busy (retry the same jobs later).
struct Admission {
  bool busy = false;
  std::function<void()> release;  ///< returns the job's memory; may be null
  std::string reason;
  // The arbiter's reshaping advice, which the worker follows:
  bool tiled_vae = false;         ///< decode with tiles (the scratch below is the tiled figure)
  std::int64_t max_batch = 0;     ///< denoise at most this many images at once (0: all)
  std::uint64_t scratch_bytes = 0;  ///< reserved for the job: credited back to the running thread
};

/// A model the server can load. Names are what clients send; paths never leave the server.
struct ModelEntry {
  std::string name;             ///< "demo", a [model] path's stem, or an entry of a models folder
  std::filesystem::path path;   ///< file or diffusers folder (empty for the demo model)
  bool loaded = false;
};

struct OrchestratorOptions {
  config::Config config;  ///< [model] path, device/dtype, [lora] folders, [generate] defaults
  std::shared_ptr<const plugins::PluginRegistry> registry;  ///< required
  ServerLimits limits;
  std::int64_t max_batch = 4;         ///< images per UNet batch across jobs (1: no batching)
  std::vector<std::filesystem::path> model_folders;  ///< extra folders of models (*.safetensors, diffusers folders)
  bool demo_model = true;             ///< offer the built-in "demo" model (the default when none is configured)
  std::filesystem::path demo_cache_dir;  ///< empty: models::demo::default_cache_dir()
  double affinity_max_wait_s = 30;    ///< a waiting job older than this forces a model/LoRA switch
  double default_timeout_s = 0;       ///< for jobs without timeout_s; 0: none
  std::size_t max_queue = 1000;       ///< queued jobs beyond this are refused
  std::size_t keep_finished = 1000;   ///< finished jobs remembered for snapshot(), oldest dropped first
  std::int64_t preview_every = 0;     ///< progress events carry a preview PNG every N steps (0: never)
  /// Decode (VAE + PNG) each batch on a second thread while the next batch denoises ([server]
  /// overlap_decode). Off: the worker decodes before it takes the next job.
  bool overlap_decode = false;
  bool start_paused = false;          ///< the worker waits for resume() (tests, maintenance)
  /// Memory admission (the arbiter, see server/orchestrator_admission.h): called on the worker
  /// thread before each job or batch runs; an error fails the job(s) with that message, busy puts
  /// them back in the queue. Null: everything is admitted.
  std::function<sdk::Result<Admission>(const AdmissionRequest&)> admit;
  /// When set, every loaded model's networks are registered with this arbiter (movable,
  /// droppable and re-read from their file) and unregistered before the model is unloaded;
  /// components with merged LoRAs are pinned (a re-read would lose the merge). Must outlive the
  /// orchestrator.
  memory::MemoryArbiter* arbiter = nullptr;
  /// Model loading, replaceable for tests; null: pipeline::SdxlModel::load.
  std::function<sdk::Result<std::shared_ptr<pipeline::SdxlModel>>(const pipeline::ModelSpec&)> load_model;
};

class Orchestrator {
 public:
  using EventCallback = std::function<void(const JobEvent&)>;

  explicit Orchestrator(OrchestratorOptions options);
  ~Orchestrator();  ///< shutdown(false)
  Orchestrator(const Orchestrator&) = delete;
  Orchestrator& operator=(const Orchestrator&) = delete;

  /// Checks the job against the server (model and LoRA names, sampler, limits, queue size) and
  /// queues it. Errors: invalid_argument / not_found (→ 400/404), unsupported when shutting down or
  /// the queue is full (→ 503). Returns the job id.
  sdk::Result<std::string> submit(JobSpec spec);
  std::optional<JobSnapshot> snapshot(const std::string& id) const;
  /// Queued: cancelled at once. Running: stops between steps (its whole batch-mate jobs keep
  /// running; the cancelled job's rows are discarded). False when unknown or already finished.
  bool cancel(const std::string& id);
  /// The id of the job the worker runs now (A1111 /progress, /interrupt).
  std::optional<std::string> running_job() const;
  /// Ids of queued and running jobs, in the order they would run.
  std::vector<std::string> active_jobs() const;

  /// Events of job `id` from now on. When the job has already finished, the callback receives its
  /// terminal event at once. Returns 0 for an unknown id, else a token for unsubscribe.
  std::uint64_t subscribe(const std::string& id, EventCallback callback);
  void unsubscribe(std::uint64_t token);

  std::vector<ModelEntry> models() const;
  /// The loaded model's name, else the default a job without "model" gets.
  std::string current_model() const;
  /// Makes `name` the default model and loads it before the next job (A1111 /options
  /// sd_model_checkpoint). not_found when the name is not in models().
  sdk::Status select_model(const std::string& name);
  /// Scheduler feature names (for /samplers).
  std::vector<std::string> samplers() const;
  /// LoRA names found in the configured folders (for /loras).
  std::vector<std::string> loras() const;
  /// ControlNet names found in the [controlnet] folders (for /controlnet/model_list).
  std::vector<std::string> controlnets() const;
  /// Queue length, running job, totals per final state, batches run and their sizes, model loads,
  /// and `overlapped_decodes`: batches whose denoising started while an earlier one still decoded.
  nlohmann::json stats_json() const;

  void pause();
  void resume();
  /// Stops taking jobs. drain = true: the running job or batch finishes; otherwise it is cancelled
  /// between steps. Queued jobs end as cancelled ("server shutting down"). Idempotent; waits for
  /// the worker thread.
  void shutdown(bool drain = true);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sdxl::server
