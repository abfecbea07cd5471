#include "fleet/orchestrator_runner.h"

#include <condition_variable>
#include <deque>

#include "server/job_state.h"

namespace sdxl::fleet {
namespace {

bool is_final(sdk::StatusCode c) {
  return c == sdk::StatusCode::invalid_argument || c == sdk::StatusCode::not_found ||
         c == sdk::StatusCode::corrupt_data;
}

// Events cross from the orchestrator's thread to the caller's through this small queue.
struct EventQueue {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<server::JobEvent> events;
  void push(const server::JobEvent& e) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      events.push_back(e);
    }
    cv.notify_one();
  }
};

}  // namespace

sdk::Result<JobOutput> OrchestratorRunner::run(const std::string& job_id, const std::string& job_json,
                                               const ProgressFn& progress) {
  auto spec = server::parse_job_json(job_json, limits_);
  if (!spec.ok()) return spec.status();
  std::vector<std::string> lora_set;
  for (const auto& l : spec.value().loras) lora_set.push_back(l.name + ":" + std::to_string(l.weight));

  auto events = std::make_shared<EventQueue>();
  auto submitted = orchestrator_.submit(spec.value());
  if (!submitted.ok()) {
    const auto& st = submitted.status();
    if (is_final(st.code())) return st;
    return sdk::internal_error("orchestrator refused job " + job_id + " for now: " + st.message());
  }
  const std::string local_id = submitted.value();
  const auto token = orchestrator_.subscribe(local_id, [events](const server::JobEvent& e) { events->push(e); });
  for (bool finished = false; !finished;) {
    std::deque<server::JobEvent> batch;
    {
      std::unique_lock<std::mutex> lock(events->mutex);
      // The timeout is a safety net: the snapshot below also notices a finished job.
      events->cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return !events->events.empty(); });
      batch.swap(events->events);
    }
    for (const auto& e : batch) {
      if (e.kind == server::JobEvent::Kind::progress && progress) progress(e.step, e.total);
      if (e.kind == server::JobEvent::Kind::done || e.kind == server::JobEvent::Kind::failed ||
          e.kind == server::JobEvent::Kind::cancelled)
        finished = true;
    }
    if (!finished) {
      auto snap = orchestrator_.snapshot(local_id);
      finished = !snap || server::is_terminal(snap->state);
    }
  }
  orchestrator_.unsubscribe(token);

  auto snap = orchestrator_.snapshot(local_id);
  if (!snap) return sdk::internal_error("job " + job_id + ": the orchestrator forgot it");
  if (snap->state == server::JobState::failed)  // a failure while running: maybe this worker's fault, retried
    return sdk::internal_error(snap->error.empty() ? "job failed" : snap->error);
  if (snap->state != server::JobState::done)
    return sdk::internal_error("job " + job_id + " was " + server::to_string(snap->state) + ": " + snap->error);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    last_loras_ = lora_set;
  }
  JobOutput out;
  for (const auto& image : snap->images) out.images_png.emplace_back(image.png.begin(), image.png.end());
  out.metadata = snap->to_json(false);
  out.metadata["id"] = job_id;  // the fleet's id, not the orchestrator's local one
  out.metadata["local_id"] = local_id;
  return out;
}

std::vector<std::string> OrchestratorRunner::models() const {
  auto stats = orchestrator_.stats_json();
  const std::string loaded = stats.value("loaded_model", "");
  if (loaded.empty()) return {};
  return {loaded};
}

std::vector<std::string> OrchestratorRunner::loras() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_loras_;
}

}  // namespace sdxl::fleet
