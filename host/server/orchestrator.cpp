#include "server/orchestrator.h"

#include <random>

#include "server/orchestrator_impl.h"
#include "util/logging.h"

namespace sdxl::server {

// ---- Impl helpers -------------------------------------------------------------------------------

void Orchestrator::Impl::count(const std::string& key, std::int64_t by) {
  counters[key] = counters.value(key, std::int64_t{0}) + by;
}

PendingEvent Orchestrator::Impl::event_locked(const Job& job, JobEvent event) {
  PendingEvent p;
  event.job_id = job.id;
  p.event = std::move(event);
  for (const auto& [token, sub] : subscribers)
    if (sub.first == job.id) p.callbacks.push_back(sub.second);
  return p;
}

std::optional<PendingEvent> Orchestrator::Impl::finish_locked(Job& job, JobState state, const std::string& error,
                                                              sdk::StatusCode code) {
  if (is_terminal(job.snap.state)) return std::nullopt;
  const auto now = Clock::now();
  const bool never_started = job.snap.state == JobState::queued;
  if (never_started) queue.remove(job.id);
  job.snap.state = state;
  job.snap.error = error;
  job.snap.error_code = state == JobState::done ? sdk::StatusCode::ok : code;
  job.snap.queue_position = -1;
  job.snap.timings.total = std::chrono::duration<double>(now - job.submitted).count();
  if (never_started) job.snap.timings.queued = job.snap.timings.total;
  count(std::string("jobs_") + to_string(state));
  finished.push_back(job.id);
  while (finished.size() > opt.keep_finished) {  // forget the oldest finished jobs
    const std::string old = finished.front();
    finished.pop_front();
    jobs.erase(old);
    for (auto it = subscribers.begin(); it != subscribers.end();)
      it = it->second.first == old ? subscribers.erase(it) : std::next(it);
  }
  JobEvent e;
  e.kind = state == JobState::done ? JobEvent::Kind::done
           : state == JobState::failed ? JobEvent::Kind::failed : JobEvent::Kind::cancelled;
  e.step = job.snap.step;
  e.total = job.snap.total;
  e.error = error;
  return event_locked(job, e);
}

void Orchestrator::Impl::fail_jobs_locked(const std::vector<std::shared_ptr<Job>>& jobs, const sdk::Status& st,
                                          std::vector<PendingEvent>& out) {
  for (const auto& j : jobs)
    if (auto ev = finish_locked(*j, j->cancel_requested ? JobState::cancelled : JobState::failed,
                                j->cancel_requested ? j->cancel_reason : st.message(), st.code()))
      out.push_back(std::move(*ev));
}

void Orchestrator::Impl::deliver(std::vector<PendingEvent>& events) {
  for (auto& p : events)
    for (auto& cb : p.callbacks) {
      try {
        cb(p.event);
      } catch (const std::exception& ex) {  // a subscriber's bug must not stop the worker
        util::log_warn(std::string("job event subscriber threw: ") + ex.what());
      } catch (...) {
        util::log_warn("job event subscriber threw");
      }
    }
  events.clear();
}

// ---- public API ---------------------------------------------------------------------------------

Orchestrator::Orchestrator(OrchestratorOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  impl_->paused = impl_->opt.start_paused;
  impl_->build_catalogue();
  for (const char* k : {"jobs_submitted", "jobs_rejected", "jobs_done", "jobs_failed", "jobs_cancelled", "batches",
                        "model_loads", "lora_switches", "overlapped_decodes"})
    impl_->counters[k] = 0;
  if (impl_->opt.max_batch < 1) impl_->opt.max_batch = 1;
  if (impl_->opt.overlap_decode) impl_->finisher = std::thread([this] { impl_->finisher_loop(); });
  impl_->worker = std::thread([this] { impl_->worker_loop(); });
}

Orchestrator::~Orchestrator() { shutdown(false); }

sdk::Result<std::string> Orchestrator::submit(JobSpec spec) {
  auto job = std::make_shared<Job>();
  job->spec = std::move(spec);
  if (!impl_->opt.registry) return sdk::internal_error("orchestrator: no plugin registry");
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (job->spec.model.empty()) job->model = impl_->default_model;
  }
  auto fail = [&](sdk::Status st) -> sdk::Result<std::string> {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->count("jobs_rejected");
    return st;
  };
  if (auto st = impl_->resolve_job(*job); !st.ok()) return fail(st);
  if (job->spec.seed < 0) job->spec.seed = static_cast<std::int64_t>(std::random_device{}() & 0x7fffffff);
  const double timeout = job->spec.timeout_s > 0 ? job->spec.timeout_s : impl_->opt.default_timeout_s;
  job->submitted = Clock::now();
  if (timeout > 0)
    job->deadline = job->submitted + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout));

  std::vector<PendingEvent> events;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopping) {
      impl_->count("jobs_rejected");
      return sdk::unsupported("the server is shutting down");
    }
    if (impl_->queue.size() >= impl_->opt.max_queue) {
      impl_->count("jobs_rejected");
      return sdk::unsupported("the queue is full (" + std::to_string(impl_->opt.max_queue) + " jobs)");
    }
    job->seq = impl_->next_seq++;
    job->id = "job-" + std::to_string(job->seq);
    job->snap.id = job->id;
    job->snap.spec = job->spec;
    job->snap.model = job->model;
    job->snap.total = job->spec.steps;
    impl_->jobs[job->id] = job;
    impl_->queue.push({job->id, job->spec.priority, job->spec.client, job->seq, job->submitted, job->affinity});
    impl_->count("jobs_submitted");
    JobEvent e;
    e.kind = JobEvent::Kind::queued;
    e.total = job->spec.steps;
    events.push_back(impl_->event_locked(*job, e));  // nobody can have subscribed yet; kept for symmetry
  }
  impl_->cv.notify_all();
  Impl::deliver(events);
  return job->id;
}

std::optional<JobSnapshot> Orchestrator::snapshot(const std::string& id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->jobs.find(id);
  if (it == impl_->jobs.end()) return std::nullopt;
  JobSnapshot s = it->second->snap;
  if (s.state == JobState::queued) {
    const auto order = impl_->queue.order(impl_->loaded_affinity, Clock::now(), impl_->opt.affinity_max_wait_s);
    for (std::size_t i = 0; i < order.size(); ++i)
      if (order[i] == id) s.queue_position = static_cast<std::int64_t>(i);
    s.timings.queued = std::chrono::duration<double>(Clock::now() - it->second->submitted).count();
  }
  return s;
}

bool Orchestrator::cancel(const std::string& id) {
  std::vector<PendingEvent> events;
  bool ok = false;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->jobs.find(id);
    if (it == impl_->jobs.end()) return false;
    Job& job = *it->second;
    if (job.snap.state == JobState::queued) {
      if (auto e = impl_->finish_locked(job, JobState::cancelled, "cancelled while queued", sdk::StatusCode::cancelled))
        events.push_back(std::move(*e));
      ok = true;
    } else if (job.snap.state == JobState::running && !job.cancel_requested) {
      job.cancel_requested = true;  // the worker stops it between steps
      job.cancel_reason = "cancelled while running";
      ok = true;
    }
  }
  Impl::deliver(events);
  return ok;
}

std::optional<std::string> Orchestrator::running_job() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (const auto* jobs : {&impl_->running, &impl_->finishing})  // denoising first, then decoding
    for (const auto& j : *jobs)
      if (!is_terminal(j->snap.state)) return j->id;
  return std::nullopt;
}

std::vector<std::string> Orchestrator::active_jobs() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<std::string> ids;
  for (const auto* jobs : {&impl_->finishing, &impl_->running})  // in the order they started
    for (const auto& j : *jobs)
      if (!is_terminal(j->snap.state)) ids.push_back(j->id);
  for (auto& id : impl_->queue.order(impl_->loaded_affinity, Clock::now(), impl_->opt.affinity_max_wait_s))
    ids.push_back(id);
  return ids;
}

std::uint64_t Orchestrator::subscribe(const std::string& id, EventCallback callback) {
  std::vector<PendingEvent> events;
  std::uint64_t token = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->jobs.find(id);
    if (it == impl_->jobs.end() || !callback) return 0;
    token = impl_->next_token++;
    const Job& job = *it->second;
    if (is_terminal(job.snap.state)) {  // too late for the live events: the outcome at once
      JobEvent e;
      e.kind = job.snap.state == JobState::done ? JobEvent::Kind::done
               : job.snap.state == JobState::failed ? JobEvent::Kind::failed : JobEvent::Kind::cancelled;
      e.job_id = id;
      e.step = job.snap.step;
      e.total = job.snap.total;
      e.error = job.snap.error;
      events.push_back({{callback}, e});
    } else {
      impl_->subscribers[token] = {id, std::move(callback)};
    }
  }
  Impl::deliver(events);
  return token;
}

void Orchestrator::unsubscribe(std::uint64_t token) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->subscribers.erase(token);
}

std::vector<ModelEntry> Orchestrator::models() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<ModelEntry> out = impl_->catalogue;
  for (auto& m : out) m.loaded = m.name == impl_->loaded_model;
  return out;
}

std::string Orchestrator::current_model() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->loaded_model.empty() ? impl_->default_model : impl_->loaded_model;
}

sdk::Status Orchestrator::select_model(const std::string& name) {
  if (!impl_->find_model(name)) {
    std::string names;
    for (const auto& m : impl_->catalogue) names += (names.empty() ? "" : ", ") + m.name;
    return sdk::not_found("model '" + name + "' is not offered by this server (available: " + names + ")");
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->default_model = name;
  return {};
}

std::vector<std::string> Orchestrator::samplers() const {
  std::vector<std::string> names;
  if (impl_->opt.registry) names = impl_->opt.registry->names(sdk::FeatureKind::scheduler);
  return names;
}

nlohmann::json Orchestrator::stats_json() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  nlohmann::json j = impl_->counters;
  j["queued"] = impl_->queue.size();
  nlohmann::json running = nlohmann::json::array();
  for (const auto* jobs : {&impl_->finishing, &impl_->running})
    for (const auto& r : *jobs)
      if (!is_terminal(r->snap.state)) running.push_back(r->id);
  j["running"] = running;
  j["current_model"] = impl_->loaded_model.empty() ? impl_->default_model : impl_->loaded_model;
  j["loaded_model"] = impl_->loaded_model;
  j["paused"] = impl_->paused;
  j["max_batch"] = impl_->opt.max_batch;
  j["overlap_decode"] = impl_->opt.overlap_decode;
  nlohmann::json sizes = nlohmann::json::object();
  for (const auto& [jobs, n] : impl_->batch_sizes) sizes[std::to_string(jobs)] = n;
  j["batch_jobs_histogram"] = sizes;
  return j;
}

void Orchestrator::pause() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->paused = true;
}

void Orchestrator::resume() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->paused = false;
  }
  impl_->cv.notify_all();
}

void Orchestrator::shutdown(bool drain) {
  std::vector<PendingEvent> events;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
    for (const auto& e : impl_->queue.drain()) {
      auto it = impl_->jobs.find(e.id);
      if (it == impl_->jobs.end()) continue;
      if (auto ev = impl_->finish_locked(*it->second, JobState::cancelled, "server shutting down",
                                         sdk::StatusCode::cancelled))
        events.push_back(std::move(*ev));
    }
    if (!drain)
      for (auto& r : impl_->running)
        if (!r->cancel_requested) {
          r->cancel_requested = true;
          r->cancel_reason = "server shutting down";
        }
  }
  impl_->cv.notify_all();
  Impl::deliver(events);
  // Called from an event callback (worker or finisher thread): the owner's later call joins.
  const auto self = std::this_thread::get_id();
  if (impl_->worker.joinable() && impl_->worker.get_id() != self && impl_->finisher.get_id() != self) {
    impl_->worker.join();
    impl_->unload_model();  // the worker is gone: the arbiter must not keep callbacks into the model
    impl_->release_controlnets();
  }
}

}  // namespace sdxl::server
