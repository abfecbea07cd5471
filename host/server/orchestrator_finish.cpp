// The end of a batch: VAE decode, PNGs with their infotext, results published — on the worker
// thread, or with overlap_decode on the finisher thread while the worker denoises the next batch.
//
// Why a second thread helps: on a GPU the decode and PNG encoding of one job (tens of ms of GPU
// work, then host-only work) can hide behind the next job's UNet steps instead of idling the
// GPU. Why it stays safe: the batch keeps its memory admission (and so its pinned components)
// until its decode ends, there is one slot (a third batch waits), and the worker waits for the
// slot to empty before it changes the model or LoRA set (ensure_model).
#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <utility>

#include "gpu/side_stream.h"
#include "image/png.h"
#include "memory/scratch_credit.h"
#include "server/job_infotext.h"
#include "server/orchestrator_impl.h"
#include "util/logging.h"

namespace sdxl::server {
namespace {

sdk::Status decode_guarded(DenoisedBatch& b, const plugins::PluginRegistry& registry) {
  try {
    // The decode gets the admission's scratch (memory/scratch_credit.h) on this thread.
    std::optional<memory::ScratchCredit> credit;
    if (b.scratch_bytes > 0) credit.emplace(b.model->device, b.scratch_bytes);
    return decode_batch(*b.model, registry, b.parts, b.max_rows, b.result);
  } catch (const c10::Error& e) {
    return sdk::internal_error(std::string("torch: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return sdk::internal_error(e.what());
  }
}

}  // namespace

void Orchestrator::Impl::forget_finishing_locked(const std::vector<std::shared_ptr<Job>>& jobs) {
  finishing.erase(std::remove_if(finishing.begin(), finishing.end(),
                                 [&](const std::shared_ptr<Job>& j) {
                                   return std::find(jobs.begin(), jobs.end(), j) != jobs.end();
                                 }),
                  finishing.end());
}

void Orchestrator::Impl::finish_batch(DenoisedBatch& b) {
  std::vector<PendingEvent> events;
  auto fail_all = [&](const sdk::Status& st) {
    util::log_warn(b.jobs.front()->id + ": " + st.message());
    std::lock_guard<std::mutex> lock(mu);
    fail_jobs_locked(b.jobs, st, events);
    forget_finishing_locked(b.jobs);
  };
  const sdk::Status decoded = decode_guarded(b, *opt.registry);
  if (b.release) std::exchange(b.release, nullptr)();  // the memory is free once the pictures are on the host
  if (!decoded.ok()) {
    fail_all(decoded);
    return deliver(events);
  }

  // PNGs with the infotext, job by job.
  std::vector<std::vector<JobImage>> images(b.jobs.size());
  for (std::size_t k = 0; k < b.jobs.size(); ++k) {
    const Job& j = *b.jobs[k];
    InfotextContext ctx{b.result.sampler, j.model, b.device_label, j.loras, b.extra_fields};
    const at::Tensor& pixels = b.result.images[k];
    for (std::int64_t i = 0; i < pixels.size(0); ++i) {
      JobImage im;
      im.seed = j.spec.seed + i;
      im.infotext = job_infotext(j.spec, im.seed, ctx);
      auto png = image::encode_png(pixels[i], {{"parameters", im.infotext}});
      if (!png.ok()) {
        fail_all(png.status());
        return deliver(events);
      }
      im.png = std::move(png).value();
      images[k].push_back(std::move(im));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    const auto& t = b.result.seconds;
    for (std::size_t k = 0; k < b.jobs.size(); ++k) {
      Job& j = *b.jobs[k];
      if (is_terminal(j.snap.state)) continue;  // cancelled or timed out meanwhile: rows discarded
      j.snap.images = std::move(images[k]);
      j.snap.sampler = b.result.sampler;
      j.snap.step = j.snap.total;
      j.snap.timings.text = t.text;
      j.snap.timings.denoise = t.denoise;
      j.snap.timings.unet = t.unet;
      j.snap.timings.vae = t.vae;
      if (auto ev = finish_locked(j, JobState::done, "", sdk::StatusCode::ok)) events.push_back(std::move(*ev));
    }
    forget_finishing_locked(b.jobs);
  }
  deliver(events);
}

void Orchestrator::Impl::hand_over(DenoisedBatch batch) {
  if (!opt.overlap_decode) return finish_batch(batch);
  std::unique_lock<std::mutex> lock(finish_mu);
  finish_cv.wait(lock, [&] { return !to_finish.has_value(); });
  to_finish = std::move(batch);
  finish_cv.notify_all();
}

void Orchestrator::Impl::wait_for_finisher() {
  std::unique_lock<std::mutex> lock(finish_mu);
  finish_cv.wait(lock, [&] { return !to_finish.has_value() && !finisher_busy; });
}

bool Orchestrator::Impl::finisher_active() {
  std::lock_guard<std::mutex> lock(finish_mu);
  return to_finish.has_value() || finisher_busy;
}

void Orchestrator::Impl::finisher_loop() {
  for (;;) {
    std::optional<DenoisedBatch> batch;
    {
      std::unique_lock<std::mutex> lock(finish_mu);
      finish_cv.wait(lock, [&] { return to_finish.has_value() || finisher_stop; });
      if (!to_finish) return;  // stopping with nothing left
      batch = std::move(to_finish);
      to_finish.reset();
      finisher_busy = true;
      finish_cv.notify_all();  // the slot is free: the worker may hand over the next batch
    }
    try {
      // On a GPU, a stream of its own, so the decode can overlap the worker's UNet calls.
      gpu::SideStreamScope stream(batch->model->device);
      finish_batch(*batch);
    } catch (...) {  // finish_batch catches what it can; nothing may end this thread
      std::vector<PendingEvent> events;
      {
        std::lock_guard<std::mutex> lock(mu);
        fail_jobs_locked(batch->jobs, sdk::internal_error("internal error"), events);
        forget_finishing_locked(batch->jobs);
      }
      deliver(events);
      if (batch->release) std::exchange(batch->release, nullptr)();
    }
    batch.reset();  // lets go of the model before the worker may unload it
    std::lock_guard<std::mutex> lock(finish_mu);
    finisher_busy = false;
    finish_cv.notify_all();
  }
}

void Orchestrator::Impl::stop_finisher() {
  {
    std::lock_guard<std::mutex> lock(finish_mu);
    finisher_stop = true;
  }
  finish_cv.notify_all();
  if (finisher.joinable()) finisher.join();
}

}  // namespace sdxl::server
