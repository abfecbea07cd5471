#pragma once
// Private state of the Orchestrator (orchestrator.cpp: the public API; orchestrator_catalog.cpp:
// model and LoRA names; orchestrator_worker.cpp: the worker thread; orchestrator_batch.cpp:
// forming and admitting a batch; orchestrator_finish.cpp: decode and results). Not for other users.
//
// Locking: `mu` guards everything below marked [mu]; the worker alone touches the fields marked
// [worker]. Event callbacks are collected under `mu` and called after it is released.

#include <ATen/core/Tensor.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "pipeline/control_units.h"
#include "pipeline/lora_stack.h"
#include "pipeline/sdxl_model.h"
#include "server/batch.h"
#include "server/job_queue.h"
#include "server/orchestrator.h"

namespace sdxl::server {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Job {
  std::string id;
  JobSpec spec;                              ///< seed resolved, demo defaults applied
  std::string model;                         ///< resolved model name
  std::vector<pipeline::LoraRequest> loras;  ///< resolved files (spec.loras, then prompt tags)
  std::string model_prompt;                  ///< the prompt without <lora:…> tags
  std::string affinity;                      ///< model + LoRA set
  at::Tensor init_image, mask;               ///< decoded at submission; undefined when absent
  std::vector<pipeline::PreparedControlUnit> controls;  ///< ControlNet units, pictures prepared at submission
  Clock::time_point submitted, started, deadline = Clock::time_point::max();
  std::uint64_t seq = 0;
  bool cancel_requested = false;             ///< [mu]
  std::string cancel_reason;                 ///< [mu]
  JobSnapshot snap;                          ///< [mu]
  std::string prompt_shape, prompt_shape_model;  ///< [worker] batch_prompt_shape cache
};

/// A denoised batch on its way to pictures: what decoding and publishing need (orchestrator_finish.cpp).
struct DenoisedBatch {
  std::vector<std::shared_ptr<Job>> jobs;
  std::vector<BatchJob> parts;                 ///< the jobs' rows, in latent order
  std::int64_t max_rows = 0;                   ///< the arbiter's reshape advice, for the decode too
  BatchResult result;                          ///< latents (CPU), sampler, seconds; images filled by the decode
  std::shared_ptr<pipeline::SdxlModel> model;  ///< kept alive until the decode ends
  std::string device_label;
  std::vector<std::pair<std::string, std::string>> extra_fields;  ///< infotext "VAE", "ControlNet N"
  std::uint64_t scratch_bytes = 0;             ///< the admission's scratch, credited to the decoding thread
  std::function<void()> release;               ///< the admission's release (after the decode); may be null
};

struct PendingEvent {
  std::vector<Orchestrator::EventCallback> callbacks;
  JobEvent event;
};

struct Orchestrator::Impl {
  OrchestratorOptions opt;
  std::vector<ModelEntry> catalogue;                    ///< fixed at construction
  std::vector<std::filesystem::path> lora_folders;
  std::vector<std::filesystem::path> controlnet_folders;

  mutable std::mutex mu;
  std::condition_variable cv;
  JobQueue queue;                                       // [mu]
  std::map<std::string, std::shared_ptr<Job>> jobs;     // [mu] queued, running and recent
  std::deque<std::string> finished;                     // [mu] terminal ids, oldest first
  std::map<std::uint64_t, std::pair<std::string, EventCallback>> subscribers;  // [mu]
  std::uint64_t next_token = 1, next_seq = 1;           // [mu]
  std::vector<std::shared_ptr<Job>> running;            // [mu] being denoised
  std::vector<std::shared_ptr<Job>> finishing;          // [mu] denoised, decoding (still "running" to clients)
  bool paused = false, stopping = false;                // [mu]
  std::string default_model;                            // [mu]
  std::string loaded_model, loaded_affinity;            // [mu] written by the worker
  nlohmann::json counters = nlohmann::json::object();   // [mu]
  std::map<std::int64_t, std::int64_t> batch_sizes;     // [mu] jobs per batch → batches

  std::shared_ptr<pipeline::SdxlModel> model;           // [worker]
  std::unique_ptr<pipeline::ModelLoras> model_loras;    // [worker]
  std::string device_label;                             // [worker] "cpu float32"
  std::thread worker;

  // orchestrator.cpp
  void count(const std::string& key, std::int64_t by = 1);  // [mu] held
  /// Sets a terminal state (once); returns the event to deliver, or nothing when already final.
  std::optional<PendingEvent> finish_locked(Job& job, JobState state, const std::string& error,
                                            sdk::StatusCode code);
  PendingEvent event_locked(const Job& job, JobEvent event);
  /// Ends the jobs as failed with `st` (as cancelled, with their reason, when a cancel was asked).
  void fail_jobs_locked(const std::vector<std::shared_ptr<Job>>& jobs, const sdk::Status& st,
                        std::vector<PendingEvent>& out);
  static void deliver(std::vector<PendingEvent>& events);

  // orchestrator_catalog.cpp
  void build_catalogue();
  const ModelEntry* find_model(const std::string& name) const;
  /// Releases the current model (and its LoRA state), unregistering it from the arbiter first.
  void unload_model();
  std::vector<std::string> model_components;  // [worker] registered with options.arbiter
  sdk::Status resolve_job(Job& job) const;  ///< names → files, defaults, init image decoding
  sdk::Result<pipeline::ModelSpec> model_spec(const ModelEntry& entry) const;

  // orchestrator_controlnets.cpp: the last job's ControlNets stay loaded for the next one and are
  // registered with the arbiter as droppable components (drop = let go of our handle).
  std::mutex controlnet_mu;  // guards kept_controlnets (the arbiter's drop callback runs on any thread)
  std::map<std::string, std::shared_ptr<const models::ControlNetModel>> kept_controlnets;  // [controlnet_mu]
  std::vector<std::string> controlnet_components;  // [worker] registered with options.arbiter
  /// Loads the job's units on the current model (shared with what is kept), keeps and registers them.
  sdk::Result<std::vector<pipeline::ControlUnit>> load_controls(const Job& job);
  /// Unregisters and lets go of every kept ControlNet (never called with controlnet_mu held).
  void release_controlnets();

  // orchestrator_finish.cpp: decode, PNGs, results; on the finisher thread when overlap_decode.
  std::mutex finish_mu;
  std::condition_variable finish_cv;
  std::optional<DenoisedBatch> to_finish;  // [finish_mu] handed over, not yet taken
  bool finisher_busy = false;              // [finish_mu] decoding a batch now
  bool finisher_stop = false;              // [finish_mu]
  std::thread finisher;
  void finish_batch(DenoisedBatch& batch);
  void forget_finishing_locked(const std::vector<std::shared_ptr<Job>>& jobs);  // [mu] held
  /// overlap_decode: waits until the finisher's slot is free, then hands the batch over;
  /// otherwise finishes it on this thread.
  void hand_over(DenoisedBatch batch);
  /// Returns once no batch waits for or is in its decode (before the model or LoRAs change).
  void wait_for_finisher();
  bool finisher_active();
  void finisher_loop();
  /// Ends the finisher thread after the batch in hand (worker exit).
  void stop_finisher();

  // orchestrator_batch.cpp: forming and admitting a batch, and its between-step hooks.
  static BatchShape batch_shape_of(const Job& job);
  static BatchJob batch_job_of(const Job& job);
  /// Adds queued jobs that can share the head's UNet batch (batch.front()) to `batch` and
  /// `parts`, marks them running (their `started` events go to `events`) and makes the batch the
  /// running one.
  void take_batch_mates(std::vector<std::shared_ptr<Job>>& batch, std::vector<BatchJob>& parts,
                        std::vector<PendingEvent>& events);
  /// Asks OrchestratorOptions::admit (set) for the batch's memory, retrying while busy.
  sdk::Result<Admission> admit_batch(const std::vector<std::shared_ptr<Job>>& batch, std::int64_t rows,
                                     const BatchShape& shape, std::size_t control_units);
  /// Progress (with preview PNGs), cancellation and timeouts for the denoising loop, job by job.
  /// The hooks refer to `batch`, `parts` and `previews`, which must outlive them.
  BatchHooks step_hooks(const std::vector<std::shared_ptr<Job>>& batch, const std::vector<BatchJob>& parts,
                        std::vector<std::vector<unsigned char>>& previews);

  // orchestrator_worker.cpp
  void worker_loop();
  void expire_queued_locked(Clock::time_point now, std::vector<PendingEvent>& out);
  sdk::Status ensure_model(const Job& job, double& seconds);
  void run_jobs(const std::vector<std::shared_ptr<Job>>& batch);
};

}  // namespace sdxl::server
