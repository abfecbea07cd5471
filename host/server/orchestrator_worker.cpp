// The worker thread: picks the next job (and its batch mates: orchestrator_batch.cpp), makes its
// model and LoRA set current, asks for memory, denoises the batch and hands it over for decoding
// and publishing (orchestrator_finish.cpp).
#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstdio>

#include "memory/model_components.h"
#include "memory/scratch_credit.h"
#include "server/batch.h"
#include "server/orchestrator_impl.h"
#include "util/logging.h"

namespace sdxl::server {

void Orchestrator::Impl::unload_model() {
  model_loras.reset();
  if (model && opt.arbiter && !model_components.empty())
    memory::unregister_model_components(*opt.arbiter, *model);
  model_components.clear();
  model.reset();
}

void Orchestrator::Impl::expire_queued_locked(Clock::time_point now, std::vector<PendingEvent>& out) {
  std::vector<std::string> late;
  for (const auto& e : queue.entries()) {
    auto it = jobs.find(e.id);
    if (it != jobs.end() && now >= it->second->deadline) late.push_back(e.id);
  }
  for (const auto& id : late) {
    Job& j = *jobs[id];
    char msg[96];
    std::snprintf(msg, sizeof(msg), "timed out after %g s in the queue", seconds_since(j.submitted));
    if (auto ev = finish_locked(j, JobState::failed, msg, sdk::StatusCode::cancelled)) out.push_back(std::move(*ev));
  }
}

sdk::Status Orchestrator::Impl::ensure_model(const Job& job, double& seconds) {
  const auto t0 = Clock::now();
  std::string affinity;
  {
    std::lock_guard<std::mutex> lock(mu);
    affinity = loaded_affinity;
  }
  if (model && affinity == job.affinity) return {};
  wait_for_finisher();  // an overlapped decode still uses this model's VAE and its admission
  try {
    if (!model || !(affinity == job.model || affinity.rfind(job.model + "|", 0) == 0)) {
      // Another model: free the current one first (two SDXL models rarely fit together).
      unload_model();
      {
        std::lock_guard<std::mutex> lock(mu);
        loaded_model.clear();
        loaded_affinity.clear();
      }
      const ModelEntry* entry = find_model(job.model);
      if (!entry) return sdk::not_found("model '" + job.model + "' is no longer offered");
      auto spec = model_spec(*entry);
      if (!spec.ok()) return spec.status();
      util::log_info("loading model " + job.model);
      auto loaded = opt.load_model ? opt.load_model(spec.value()) : pipeline::SdxlModel::load(spec.value(), *opt.registry);
      if (!loaded.ok()) return sdk::Status(loaded.status().code(), "model '" + job.model + "': " + loaded.status().message());
      model = loaded.value();
      if (opt.arbiter) {
        auto names = memory::register_model_components(*opt.arbiter, model, spec.value(), model->device);
        if (!names.ok()) util::log_warn("memory arbiter: " + names.status().message());
        else model_components = names.value();
      }
      device_label = spec.value().device.str() + " " + pipeline::dtype_name(spec.value().dtype);
      std::lock_guard<std::mutex> lock(mu);
      loaded_model = job.model;
      loaded_affinity = job.model;
      count("model_loads");
      affinity = job.model;
    }
    if (affinity != job.affinity) {
      if (!model_loras) {
        auto mode = pipeline::parse_lora_mode(opt.config.lora_mode);  // [lora] mode
        if (!mode.ok()) return mode.status();
        auto created = pipeline::ModelLoras::create(*model, *opt.registry, mode.value());
        if (!created.ok()) return created.status();
        model_loras = std::move(created).value();
      }
      if (auto st = model_loras->apply(job.loras); !st.ok()) {
        // Back to the plain model; if even that fails the weights are suspect: reload next time.
        if (!model_loras->apply({}).ok()) unload_model();
        std::lock_guard<std::mutex> lock(mu);
        loaded_affinity = model ? job.model : "";
        if (!model) loaded_model.clear();
        return st;
      }
      // Merged LoRAs live only in memory: a dropped-and-reloaded network would lose them.
      if (opt.arbiter)
        for (const auto& name : model_components) opt.arbiter->set_pinned(name, !job.loras.empty());
      std::lock_guard<std::mutex> lock(mu);
      loaded_affinity = job.affinity;
      count("lora_switches");
    }
  } catch (const std::exception& e) {
    unload_model();
    std::lock_guard<std::mutex> lock(mu);
    loaded_model.clear();
    loaded_affinity.clear();
    return sdk::internal_error(std::string("loading model '") + job.model + "': " + e.what());
  }
  seconds = seconds_since(t0);
  return {};
}

void Orchestrator::Impl::worker_loop() {
  for (;;) {
    std::vector<PendingEvent> events;
    std::shared_ptr<Job> head;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return stopping || (!paused && !queue.empty()); });
      expire_queued_locked(Clock::now(), events);
      stop = stopping && queue.empty();
      if (!stop && !paused && !queue.empty()) {
        auto next = queue.pop_next(loaded_affinity, Clock::now(), opt.affinity_max_wait_s);
        head = jobs.at(next->id);
        head->snap.state = JobState::running;
        head->started = Clock::now();
        head->snap.timings.queued = std::chrono::duration<double>(head->started - head->submitted).count();
        running = {head};
        JobEvent e;
        e.kind = JobEvent::Kind::started;
        e.total = head->spec.steps;
        events.push_back(event_locked(*head, e));
      }
    }
    deliver(events);
    if (head) {
      try {
        run_jobs({head});
      } catch (...) {  // run_jobs catches what it can; nothing may end the worker
        std::lock_guard<std::mutex> lock(mu);
        if (auto ev = finish_locked(*head, JobState::failed, "internal error", sdk::StatusCode::internal))
          events.push_back(std::move(*ev));
        running.clear();
      }
      deliver(events);
      continue;
    }
    if (stop) {
      stop_finisher();  // after the batch it holds: its jobs end as they would have
      return;
    }
  }
}

void Orchestrator::Impl::run_jobs(const std::vector<std::shared_ptr<Job>>& first) {
  std::vector<std::shared_ptr<Job>> batch = first;
  std::vector<PendingEvent> events;
  auto fail_all = [&](const sdk::Status& st) {
    std::lock_guard<std::mutex> lock(mu);
    fail_jobs_locked(batch, st, events);
    running.clear();
  };
  Job& head = *batch.front();
  double switch_seconds = 0;
  if (auto st = ensure_model(head, switch_seconds); !st.ok()) {
    util::log_warn(head.id + ": " + st.message());
    fail_all(st);
    return deliver(events);
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    head.snap.timings.model_switch = switch_seconds;
  }
  std::vector<pipeline::ControlUnit> controls;
  if (!head.controls.empty()) {
    sdk::Result<std::vector<pipeline::ControlUnit>> loaded = sdk::internal_error("not loaded");
    try {
      loaded = load_controls(head);
    } catch (const std::exception& e) {
      loaded = sdk::internal_error(std::string("loading ControlNets: ") + e.what());
    }
    if (!loaded.ok()) {
      util::log_warn(head.id + ": " + loaded.status().message());
      fail_all(loaded.status());
      return deliver(events);
    }
    controls = std::move(loaded).value();
  }
  // Infotext fields after the model's: a VAE of its own ([model] vae), then A1111's "ControlNet N".
  const auto extra_fields = pipeline::job_infotext_fields(model->vae_name, controls);

  // Batch mates: queued jobs with the same model, LoRA set and batch shape.
  BatchShape shape = batch_shape_of(head);
  shape.controls = controls;
  std::vector<BatchJob> parts = {batch_job_of(head)};
  take_batch_mates(batch, parts, events);
  deliver(events);
  std::int64_t rows = 0;
  for (const auto& p : parts) rows += p.images;

  // Memory admission (the arbiter), retried while other work holds the memory.
  Admission admission;
  if (opt.admit) {
    auto admitted = admit_batch(batch, rows, shape, controls.size());
    if (!admitted.ok()) {
      fail_all(admitted.status());
      return deliver(events);
    }
    admission = std::move(admitted).value();
  }

  std::vector<std::vector<unsigned char>> previews(batch.size());
  const BatchHooks hooks = step_hooks(batch, parts, previews);

  // The arbiter's reshaping: fewer images at once, and the job's reserved scratch credited back to
  // this thread so the pipeline sees it (the decode, on whichever thread, gets the same credit).
  if (admission.max_batch > 0 || admission.tiled_vae) util::log_info(head.id + ": " + admission.reason);
  if (finisher_active()) {
    std::lock_guard<std::mutex> lock(mu);
    count("overlapped_decodes");
  }
  std::optional<memory::ScratchCredit> credit;
  if (admission.scratch_bytes > 0) credit.emplace(model->device, admission.scratch_bytes);
  sdk::Result<BatchResult> result = sdk::internal_error("not run");
  try {
    result = denoise_batch(*model, *opt.registry, shape, parts, hooks, admission.max_batch);
  } catch (const c10::Error& e) {
    result = sdk::internal_error(std::string("torch: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    result = sdk::internal_error(e.what());
  }
  credit.reset();
  controls.clear();
  shape.controls.clear();
  if (!result.ok()) {
    if (admission.release) admission.release();
    if (result.status().code() != sdk::StatusCode::cancelled) util::log_warn(head.id + ": " + result.status().message());
    fail_all(result.status());
    return deliver(events);
  }

  // Decode and publish: here, or on the finisher thread while the next batch denoises.
  DenoisedBatch denoised;
  denoised.jobs = batch;
  denoised.parts = std::move(parts);
  denoised.max_rows = admission.max_batch;
  denoised.result = std::move(result).value();
  denoised.model = model;
  denoised.device_label = device_label;
  denoised.extra_fields = extra_fields;
  denoised.scratch_bytes = admission.scratch_bytes;
  denoised.release = std::move(admission.release);
  {
    std::lock_guard<std::mutex> lock(mu);
    finishing.insert(finishing.end(), batch.begin(), batch.end());
    running.clear();
  }
  hand_over(std::move(denoised));
}

}  // namespace sdxl::server
