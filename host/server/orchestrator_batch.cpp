// Forming and admitting a batch (orchestrator_worker.cpp runs it): the head job's batch mates,
// the memory admission for the whole batch, and the hooks the denoising loop calls between steps
// (progress and previews, cancellation and timeouts, job by job).
#include <ATen/ATen.h>

#include <cstdio>
#include <thread>

#include "image/png.h"
#include "pipeline/vae_choice.h"
#include "server/orchestrator_impl.h"

namespace sdxl::server {

BatchShape Orchestrator::Impl::batch_shape_of(const Job& j) {
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

BatchJob Orchestrator::Impl::batch_job_of(const Job& j) {
  BatchJob b;
  b.prompt = j.model_prompt;
  b.negative = j.spec.negative;
  b.seed = j.spec.seed;
  b.images = j.spec.batch_size;
  b.cfg = j.spec.cfg;
  return b;
}

void Orchestrator::Impl::take_batch_mates(std::vector<std::shared_ptr<Job>>& batch, std::vector<BatchJob>& parts,
                                          std::vector<PendingEvent>& events) {
  Job& head = *batch.front();
  auto key_of = [&](Job& j) -> std::string {
    if (j.prompt_shape_model != j.affinity) {
      auto ps = batch_prompt_shape(*model, batch_job_of(j));
      j.prompt_shape = ps.ok() ? ps.value() : "";
      j.prompt_shape_model = j.affinity;
    }
    return j.prompt_shape.empty() ? "" : batch_shape_key(batch_shape_of(j), batch_job_of(j), j.prompt_shape);
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
}

sdk::Result<Admission> Orchestrator::Impl::admit_batch(const std::vector<std::shared_ptr<Job>>& batch, std::int64_t rows,
                                                       const BatchShape& shape, std::size_t control_units) {
  const Job& head = *batch.front();
  AdmissionRequest req;
  req.label = batch.size() == 1 ? head.id : "batch of " + std::to_string(batch.size()) + " jobs from " + head.id;
  req.model = model.get();
  req.images = rows;
  req.width = shape.width;
  req.height = shape.height;
  req.cfg = head.spec.cfg > 1.0;
  req.components = model_components;
  req.control_units = static_cast<std::int64_t>(control_units);
  if (control_units > 0)
    req.components.insert(req.components.end(), controlnet_components.begin(), controlnet_components.end());
  if (model->vae) {
    const auto& info = model->vae->info();
    const std::int64_t latent[] = {rows, info.latent_channels, shape.height / info.downscale, shape.width / info.downscale};
    req.vae_decode_tiled_bytes = pipeline::smallest_tiled_decode_bytes(*model, *opt.registry, latent);
  }
  for (;;) {
    auto a = opt.admit(req);
    if (!a.ok() || !a.value().busy) return a;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

BatchHooks Orchestrator::Impl::step_hooks(const std::vector<std::shared_ptr<Job>>& batch, const std::vector<BatchJob>& parts,
                                          std::vector<std::vector<unsigned char>>& previews) {
  // Between steps: cancellation and timeouts, job by job; the batch stops when nobody is left.
  // The hooks outlive this call: they capture what they use explicitly (the caller keeps `batch`,
  // `parts` and `previews` alive while the batch denoises).
  auto check_locked = [this, &batch](Clock::time_point now, std::vector<PendingEvent>& out) {
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
  BatchHooks hooks;
  hooks.cancelled = [this, check_locked] {
    std::vector<PendingEvent> out;
    bool anyone;
    {
      std::lock_guard<std::mutex> lock(mu);
      anyone = check_locked(Clock::now(), out);
    }
    deliver(out);
    return !anyone;
  };
  hooks.progress = [this, check_locked, &batch, &previews](std::int64_t done, std::int64_t total) {
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
    hooks.preview = [&batch, &parts, &previews](std::int64_t, const at::Tensor& pictures) {
      std::int64_t row = 0;
      for (std::size_t k = 0; k < batch.size(); ++k) {
        if (auto png = image::encode_png(pictures[row]); png.ok()) previews[k] = std::move(png).value();
        row += parts[k].images;
      }
    };
  }
  return hooks;
}

}  // namespace sdxl::server
