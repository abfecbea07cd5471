#pragma once
// What the outside sees of a job: its state, a snapshot (progress, images, timings, error) and the
// events a subscriber receives (the HTTP layer turns them into Server-Sent Events).
//
// Life cycle: queued → running → done | failed | cancelled; queued → cancelled | failed (timeout,
// shutdown). Every job ends in exactly one terminal state and sends exactly one terminal event.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sdxl/sdk/status.h"
#include "server/job.h"

namespace sdxl::server {

enum class JobState { queued, running, done, failed, cancelled };
const char* to_string(JobState s);  ///< "queued", "running", …
inline bool is_terminal(JobState s) { return s == JobState::done || s == JobState::failed || s == JobState::cancelled; }

struct JobImage {
  std::vector<unsigned char> png;  ///< PNG with A1111's "parameters" text chunk
  std::int64_t seed = 0;
  std::string infotext;            ///< the same parameters text
};

/// Seconds (0 while not reached).
struct JobTimings {
  double queued = 0;   ///< submission → start (or → end when it never started)
  double total = 0;    ///< submission → end
  double text = 0, denoise = 0, unet = 0, vae = 0;  ///< the pipeline's phases (shared by a batch)
  double model_switch = 0;  ///< loading a model / changing the LoRA set before this job
};

struct JobSnapshot {
  std::string id;
  JobState state = JobState::queued;
  JobSpec spec;                      ///< as accepted (seed resolved: never -1 once started)
  std::int64_t step = 0, total = 0;  ///< denoising calls done / to do
  std::vector<JobImage> images;      ///< when done
  std::string error;                 ///< when failed / cancelled: why
  sdk::StatusCode error_code = sdk::StatusCode::ok;
  std::string model;                 ///< the model that ran it
  std::string sampler;               ///< the scheduler feature that ran
  std::int64_t batch_jobs = 0;       ///< how many jobs shared its UNet batch (1 = alone)
  std::int64_t queue_position = -1;  ///< 0-based among queued jobs; -1 when not queued
  JobTimings timings;
  /// {"id", "state", "step", "total", "error", "model", "sampler", "seeds", "timings", …};
  /// images as base64 PNG when `with_images`.
  nlohmann::json to_json(bool with_images) const;
};

struct JobEvent {
  enum class Kind { queued, started, progress, done, failed, cancelled };
  Kind kind = Kind::queued;
  std::string job_id;
  std::int64_t step = 0, total = 0;        ///< progress
  std::vector<unsigned char> preview_png;  ///< progress, optional: the first image's preview
  std::string error;                       ///< failed / cancelled
};
const char* to_string(JobEvent::Kind k);  ///< "queued", "started", "progress", …

}  // namespace sdxl::server
