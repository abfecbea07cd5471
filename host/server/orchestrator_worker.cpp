// The worker thread: picks the next job (and its batch mates), makes its model and LoRA set
// current, asks for memory, runs the batch and publishes the results.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstdio>

#include "image/png.h"
#include "memory/model_components.h"
#include "memory/scratch_credit.h"
#include "pipeline/vae_choice.h"
#include "server/batch.h"
#include "server/orchestrator_impl.h"
#include "util/logging.h"

namespace sdxl::server {
namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

BatchShape shape_of(const Job& j) {
  BatchShape s;
  s.width = j.spec.width;
  s.height = j.spec.height;
  s.steps = j.spec.steps;
  s.sampler = j.spec.sampler;
  s.guidance_rescale = j.spec.guidance_rescale;
  s.init_image = j.init_image;
  s.mask = j.mask;
  s.strength = j.spec.strength;
  if (s.sampler == "auto") {
    s.auto_hints.model_name = j.model;
    for (const auto& l : j.loras) s.auto_hints.lora_names.push_back(l.path.filename().string());
  }
  return s;
}

BatchJob batch_job_of(const Job& j) {
  BatchJob b;
  b.prompt = j.model_prompt;
  b.negative = j.spec.negative;
  b.seed = j.spec.seed;
  b.images = j.spec.batch_size;
  b.cfg = j.spec.cfg;
  return b;
}

}  // namespace

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
  const auto control_fields = pipeline::control_infotext(controls);  // A1111's "ControlNet N"

  // Batch mates: queued jobs with the same model, LoRA set and batch shape.
  BatchShape shape = shape_of(head);
  shape.controls = controls;
  std::vector<BatchJob> parts = {batch_job_of(head)};
  auto key_of = [&](Job& j) -> std::string {
    if (j.prompt_shape_model != j.affinity) {
      auto ps = batch_prompt_shape(*model, batch_job_of(j));
      j.prompt_shape = ps.ok() ? ps.value() : "";
      j.prompt_shape_model = j.affinity;
    }
    return j.prompt_shape.empty() ? "" : batch_shape_key(shape_of(j), batch_job_of(j), j.prompt_shape);
  };
  const bool batchable = !head.init_image.defined() && head.controls.empty() && opt.max_batch > 1;
  const std::string key = batchable ? key_of(head) : "";
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!key.empty() && head.spec.batch_size < opt.max_batch) {
      std::int64_t rows = head.spec.batch_size;
      auto mates = queue.take_if([&](const QueueEntry& e) {
        auto it = jobs.find(e.id);
        if (it == jobs.end() || rows >= opt.max_batch) return false;
        Job& j = *it->second;
        if (j.affinity != head.affinity || j.init_image.defined() || !j.controls.empty() ||
            rows + j.spec.batch_size > opt.max_batch || key_of(j) != key)
          return false;
        rows += j.spec.batch_size;
        return true;
      });
      for (const auto& m : mates) {
        auto j = jobs.at(m.id);
        j->snap.state = JobState::running;
        j->started = Clock::now();
        j->snap.timings.queued = std::chrono::duration<double>(j->started - j->submitted).count();
        batch.push_back(j);
        parts.push_back(batch_job_of(*j));
        JobEvent e;
        e.kind = JobEvent::Kind::started;
        e.total = j->spec.steps;
        events.push_back(event_locked(*j, e));
      }
    }
    running = batch;
    count("batches");
    batch_sizes[static_cast<std::int64_t>(batch.size())] += 1;
    for (auto& j : batch) {
      j->snap.batch_jobs = static_cast<std::int64_t>(batch.size());
      j->snap.model = j->model;
    }
  }
  deliver(events);
  std::int64_t rows = 0;
  for (const auto& p : parts) rows += p.images;

  // Memory admission (the arbiter), retried while other work holds the memory.
  Admission admission;
  if (opt.admit) {
    AdmissionRequest req;
    req.label = batch.size() == 1 ? head.id : "batch of " + std::to_string(batch.size()) + " jobs from " + head.id;
    req.model = model.get();
    req.images = rows;
    req.width = shape.width;
    req.height = shape.height;
    req.cfg = head.spec.cfg > 1.0;
    req.components = model_components;
    req.control_units = static_cast<std::int64_t>(controls.size());
    if (!controls.empty())
      req.components.insert(req.components.end(), controlnet_components.begin(), controlnet_components.end());
    if (model->vae) {
      const auto& info = model->vae->info();
      const std::int64_t latent[] = {rows, info.latent_channels, shape.height / info.downscale, shape.width / info.downscale};
      req.vae_decode_tiled_bytes = pipeline::smallest_tiled_decode_bytes(*model, *opt.registry, latent);
    }
    for (;;) {
      auto a = opt.admit(req);
      if (!a.ok()) {
        fail_all(a.status());
        return deliver(events);
      }
      if (!a.value().busy) {
        admission = a.value();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Between steps: cancellation and timeouts, job by job; the batch stops when nobody is left.
  auto check_locked = [&](Clock::time_point now, std::vector<PendingEvent>& out) {
    bool anyone = false;
    for (auto& j : batch) {
      if (is_terminal(j->snap.state)) continue;
      if (j->cancel_requested) {
        if (auto ev = finish_locked(*j, JobState::cancelled, j->cancel_reason, sdk::StatusCode::cancelled))
          out.push_back(std::move(*ev));
      } else if (now >= j->deadline) {
        char msg[64];
        std::snprintf(msg, sizeof(msg), "timed out after %g s", seconds_since(j->submitted));
        if (auto ev = finish_locked(*j, JobState::failed, msg, sdk::StatusCode::cancelled)) out.push_back(std::move(*ev));
      } else {
        anyone = true;
      }
    }
    return anyone;
  };
  std::vector<std::vector<unsigned char>> previews(batch.size());
  BatchHooks hooks;
  hooks.cancelled = [&] {
    std::vector<PendingEvent> out;
    bool anyone;
    {
      std::lock_guard<std::mutex> lock(mu);
      anyone = check_locked(Clock::now(), out);
    }
    deliver(out);
    return !anyone;
  };
  hooks.progress = [&](std::int64_t done, std::int64_t total) {
    std::vector<PendingEvent> out;
    {
      std::lock_guard<std::mutex> lock(mu);
      check_locked(Clock::now(), out);
      for (std::size_t k = 0; k < batch.size(); ++k) {
        Job& j = *batch[k];
        if (is_terminal(j.snap.state)) continue;
        j.snap.step = done;
        j.snap.total = total;
        JobEvent e;
        e.kind = JobEvent::Kind::progress;
        e.step = done;
        e.total = total;
        e.preview_png = std::move(previews[k]);
        previews[k].clear();
        out.push_back(event_locked(j, std::move(e)));
      }
    }
    deliver(out);
  };
  if (opt.preview_every > 0) {
    hooks.preview_every = opt.preview_every;
    hooks.preview = [&](std::int64_t, const at::Tensor& pictures) {
      std::int64_t row = 0;
      for (std::size_t k = 0; k < batch.size(); ++k) {
        if (auto png = image::encode_png(pictures[row]); png.ok()) previews[k] = std::move(png).value();
        row += parts[k].images;
      }
    };
  }

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
  denoised.control_fields = control_fields;
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
