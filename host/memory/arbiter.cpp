#include "memory/arbiter.h"

#include <algorithm>
#include <limits>

#include "memory/arbiter_impl.h"
#include "util/logging.h"

namespace sdxl::memory {
namespace {

constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();
const std::string kHost = "cpu";

std::string mib(std::uint64_t bytes) {
  if (bytes == kUnlimited) return "unlimited";
  if (bytes < 1048576) return std::to_string(bytes) + " bytes";
  const double m = static_cast<double>(bytes) / 1048576.0;
  char buf[32];
  std::snprintf(buf, sizeof buf, m < 10 ? "%.2f MiB" : "%.0f MiB", m);
  return buf;
}

std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) { return a > kUnlimited - b ? kUnlimited : a + b; }

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return b == 0 ? a : (a + b - 1) / b; }

}  // namespace

const char* to_string(ArbiterMode mode) {
  switch (mode) {
    case ArbiterMode::resident: return "resident";
    case ArbiterMode::offload_idle: return "offload_idle";
    case ArbiterMode::sequential: return "sequential";
  }
  return "resident";
}

sdk::Result<ArbiterMode> parse_arbiter_mode(const std::string& text) {
  if (text.empty() || text == "resident") return ArbiterMode::resident;
  if (text == "offload_idle" || text == "offload-idle") return ArbiterMode::offload_idle;
  if (text == "sequential") return ArbiterMode::sequential;
  return sdk::invalid_argument("memory mode '" + text + "': expected resident, offload_idle or sequential");
}

// ---- Impl: bookkeeping helpers ------------------------------------------------------------

std::uint64_t MemoryArbiter::Impl::budget(const std::string& device) const {
  const auto accounts = ledger.accounts();
  auto it = accounts.find(device);
  return it == accounts.end() || it->second.budget == 0 ? kUnlimited : it->second.budget;
}

std::uint64_t MemoryArbiter::Impl::room(const std::string& device) const {
  const auto accounts = ledger.accounts();
  auto it = accounts.find(device);
  if (it == accounts.end() || it->second.budget == 0) return kUnlimited;
  return it->second.budget > it->second.used ? it->second.budget - it->second.used : 0;
}

void MemoryArbiter::Impl::record(const ArbiterComponent& c) {
  if (c.resident) ledger.record_resident(c.reg.name, c.reg.device, c.reg.bytes);
  else ledger.forget_resident(c.reg.name);
}

bool MemoryArbiter::Impl::evictable(const ArbiterComponent& c, const std::set<std::string>& needed) const {
  if (!c.resident || c.reg.pinned || c.job_pins > 0 || needed.count(c.reg.name)) return false;
  return c.reg.callbacks.drop || (c.reg.device.str() != kHost && c.reg.callbacks.offload_to);
}

// GPU -> CPU when the host has room for it, else dropped (re-read from the checkpoint later).
sdk::Status MemoryArbiter::Impl::evict(ArbiterComponent& c, std::vector<std::string>& evicted) {
  const std::string from = c.reg.device.str();
  if (from != kHost && c.reg.callbacks.offload_to && room(kHost) >= c.reg.bytes) {
    const c10::Device host(c10::kCPU);
    if (auto st = c.reg.callbacks.offload_to(host); !st.ok()) {
      ++counters.callback_failures;
      return sdk::Status(st.code(), c.reg.name + ": offload to cpu failed: " + st.message());
    }
    c.reg.device = host;
    ++counters.offloads;
    evicted.push_back(c.reg.name + ": " + from + " -> cpu");
  } else {
    if (!c.reg.callbacks.drop) return sdk::unsupported(c.reg.name + ": cannot be dropped (no drop callback)");
    if (auto st = c.reg.callbacks.drop(); !st.ok()) {
      ++counters.callback_failures;
      return sdk::Status(st.code(), c.reg.name + ": drop failed: " + st.message());
    }
    c.resident = false;
    ++counters.drops;
    evicted.push_back(c.reg.name + ": " + from + " -> dropped");
  }
  ++c.evictions;
  ++counters.evictions;
  record(c);
  return {};
}

bool MemoryArbiter::Impl::make_room(const std::string& device, std::uint64_t bytes, const std::set<std::string>& needed,
                                    std::vector<std::string>& evicted) {
  std::set<std::string> failed;  // components whose callback failed: not retried in this pass
  while (room(device) < bytes) {
    ArbiterComponent* lru = nullptr;
    for (auto& [name, c] : components)
      if (c.resident && c.reg.device.str() == device && evictable(c, needed) && !failed.count(name) &&
          (!lru || c.last_used < lru->last_used))
        lru = &c;
    if (!lru) return false;
    if (auto st = evict(*lru, evicted); !st.ok()) {
      util::log_warn("memory arbiter: " + st.message());
      failed.insert(lru->reg.name);
    }
  }
  return true;
}

sdk::Status MemoryArbiter::Impl::bring(ArbiterComponent& c, c10::Device target, std::vector<std::string>& loaded) {
  if (c.resident && c.reg.device == target) {
    ++c.hits;
    ++counters.hits;
    return {};
  }
  ++c.misses;
  ++counters.misses;
  const std::string from = c.resident ? c.reg.device.str() : "dropped";
  if (c.resident) {
    if (!c.reg.callbacks.offload_to) return sdk::unsupported(c.reg.name + ": cannot move to " + target.str());
    if (auto st = c.reg.callbacks.offload_to(target); !st.ok()) {
      ++counters.callback_failures;
      return sdk::Status(st.code(), c.reg.name + ": move to " + target.str() + " failed: " + st.message());
    }
  } else {
    if (!c.reg.callbacks.reload) return sdk::unsupported(c.reg.name + ": dropped and cannot be reloaded");
    if (auto st = c.reg.callbacks.reload(target); !st.ok()) {
      ++counters.callback_failures;
      return sdk::Status(st.code(), c.reg.name + ": reload onto " + target.str() + " failed: " + st.message());
    }
    ++counters.reloads;
  }
  c.reg.device = target;
  c.resident = true;
  ++c.loads;
  ++counters.loads;
  loaded.push_back(c.reg.name + ": " + from + " -> " + target.str());
  record(c);
  return {};
}

// ---- Impl: admission ----------------------------------------------------------------------

sdk::Result<AdmissionDecision> MemoryArbiter::Impl::try_admit(const JobFootprint& fp) {
  AdmissionDecision d;
  std::set<std::string> needed;
  for (const auto& name : fp.components) {
    if (!components.count(name)) return sdk::not_found("memory admission of '" + fp.label + "': component '" + name + "' is not registered");
    needed.insert(name);
  }
  const std::string dev = fp.device.str();
  // Sequential mode keeps the weights of components that stream (largest_block_bytes set: the UNet
  // with its block observer) on the host and reserves one block on the device for them; the
  // others (text encoders, VAE) still run on the device and go there whole.
  const bool sequential = mode == ArbiterMode::sequential && dev != kHost;
  const c10::Device host(c10::kCPU);
  const std::string wdev = host.str();
  auto streamed = [&](const ArbiterComponent& c) { return sequential && c.reg.largest_block_bytes > 0; };
  auto target_of = [&](const ArbiterComponent& c) { return streamed(c) ? host : fp.device; };

  std::uint64_t device_bytes = 0, streamed_bytes = 0, window = 0;
  for (const auto& name : needed) {
    const auto& c = components.at(name);
    if (streamed(c)) {
      streamed_bytes += c.reg.bytes;
      window = std::max(window, c.reg.largest_block_bytes);
    } else {
      device_bytes += c.reg.bytes;
    }
  }
  const bool streaming = streamed_bytes > 0;

  // Bytes nothing can move: permanently pinned components not needed, ledger residents that are
  // not ours (e.g. LoRA backups). Transient foreign leases only make the job wait.
  auto fixed_on = [&](const std::string& device) {
    std::uint64_t fixed = 0;
    for (const auto& [name, c] : components)
      if (c.resident && c.reg.device.str() == device && c.reg.pinned && !needed.count(name)) fixed += c.reg.bytes;
    for (const auto& e : ledger.entries())
      if (!e.lease && e.device == device && !components.count(e.tag)) fixed += e.bytes;
    return fixed;
  };

  // The reshape plan: the full job if possible, else tiled VAE, else fewer images at once.
  const std::int64_t batch = std::max<std::int64_t>(1, fp.batch);
  const std::uint64_t fixed_dev = fixed_on(dev) + device_bytes + window;
  const std::uint64_t budget_dev = budget(dev);
  auto scratch_for = [&](std::int64_t n, bool tiled) {
    const std::uint64_t vae_total = tiled ? fp.vae_decode_tiled_bytes : fp.vae_decode_bytes;
    if (n == batch) return std::max(fp.activation_bytes, vae_total);
    return std::max(ceil_div(fp.activation_bytes, batch) * n, ceil_div(vae_total, batch) * n);
  };
  bool planned = false;
  for (std::int64_t n = batch; n >= 1 && !planned; --n) {
    for (bool tiled : {false, true}) {
      if (tiled && (fp.vae_decode_tiled_bytes == 0 || fp.vae_decode_tiled_bytes >= fp.vae_decode_bytes)) continue;
      const std::uint64_t s = scratch_for(n, tiled);
      if (budget_dev != kUnlimited && sat_add(fixed_dev, s) > budget_dev) continue;
      d.scratch_bytes = s;
      d.tiled_vae = tiled;
      d.max_batch = n == batch ? 0 : n;
      planned = true;
      break;
    }
  }
  std::uint64_t fixed_w = 0;
  if (streaming) fixed_w = fixed_on(wdev) + streamed_bytes;
  if (!planned || (streaming && budget(wdev) != kUnlimited && fixed_w > budget(wdev))) {
    std::string why = "memory admission of '" + fp.label + "' refused: ";
    if (!planned)
      why += "on " + dev + " it needs " + mib(fixed_dev) + " of weights and fixed residents plus at least " +
             mib(scratch_for(1, fp.vae_decode_tiled_bytes != 0 && fp.vae_decode_tiled_bytes < fp.vae_decode_bytes)) +
             " of scratch (one image" + (fp.vae_decode_tiled_bytes ? ", tiled VAE" : "") + "), over the " +
             mib(budget_dev) + " budget";
    else
      why += "sequential mode keeps " + mib(fixed_w) + " of weights on " + wdev + ", over its " + mib(budget(wdev)) +
             " budget";
    return sdk::Status(sdk::StatusCode::out_of_memory, why);
  }

  // It can fit once nothing else runs; can it fit now? Check before evicting anything.
  // Streamed components still resident on the device leave it for the host: their bytes there
  // count as free (they are moved out before room is made).
  std::uint64_t incoming_dev = 0, incoming_w = 0, leaving_dev = 0;
  for (const auto& name : needed) {
    const auto& c = components.at(name);
    if (c.resident && c.reg.device == target_of(c)) continue;
    (streamed(c) ? incoming_w : incoming_dev) += c.reg.bytes;
    if (streamed(c) && c.resident && c.reg.device.str() == dev) leaving_dev += c.reg.bytes;
  }
  const std::uint64_t need_dev = sat_add(incoming_dev, d.scratch_bytes + window);
  auto reachable = [&](const std::string& device, std::uint64_t need) {
    std::uint64_t free_bytes = room(device);
    if (device == dev) free_bytes = sat_add(free_bytes, leaving_dev);
    for (const auto& [name, c] : components)
      if (c.resident && c.reg.device.str() == device && evictable(c, needed)) free_bytes = sat_add(free_bytes, c.reg.bytes);
    return free_bytes >= need;
  };
  if (!reachable(dev, need_dev) || (streaming && !reachable(wdev, incoming_w))) {
    d.reason = "'" + fp.label + "' waits: " + mib(need_dev) + " needed on " + dev + ", " + mib(room(dev)) +
               " free and the rest held by " + std::to_string(jobs.size()) + " running job(s) or foreign leases";
    return d;
  }
  if (streaming && !make_room(wdev, incoming_w, needed, d.evicted)) {
    d.reason = "'" + fp.label + "' waits: an eviction on " + wdev + " failed (see the log)";
    return d;
  }
  for (const auto& name : needed) {  // streamed components on the device go home first
    auto& c = components.at(name);
    if (streamed(c) && c.resident && c.reg.device.str() == dev)
      if (auto st = bring(c, host, d.loaded); !st.ok()) return st;
  }
  if (!make_room(dev, need_dev, needed, d.evicted)) {
    d.reason = "'" + fp.label + "' waits: an eviction on " + dev + " failed (see the log)";
    return d;
  }
  ++clock;
  for (const auto& name : needed) {
    auto& c = components.at(name);
    if (auto st = bring(c, target_of(c), d.loaded); !st.ok()) return st;
    c.last_used = clock;
  }
  ArbiterJob job;
  job.label = fp.label;
  job.components.assign(needed.begin(), needed.end());
  job.device = fp.device;
  job.scratch = d.scratch_bytes + window;
  if (job.scratch > 0) {
    auto lease = ledger.acquire("job." + std::to_string(next_job) + ".scratch", fp.device, job.scratch);
    if (!lease.ok()) {  // a foreign lease took the room between the check and now
      d.reason = "'" + fp.label + "' waits: " + lease.status().message();
      return d;
    }
    job.lease = lease.value();
  }
  for (const auto& name : needed) ++components.at(name).job_pins;
  d.ok = true;
  d.job = next_job++;
  scratch_now[dev] += job.scratch;
  scratch_peak[dev] = std::max(scratch_peak[dev], scratch_now[dev]);
  jobs.emplace(d.job, std::move(job));
  ++counters.admitted;
  if (d.tiled_vae || d.max_batch) ++counters.reshaped;
  d.reason = "'" + fp.label + "' admitted on " + dev + " with " + mib(d.scratch_bytes + window) + " scratch";
  if (d.tiled_vae) d.reason += ", tiled VAE decode";
  if (d.max_batch) d.reason += ", at most " + std::to_string(d.max_batch) + " of " + std::to_string(batch) + " images at once";
  if (streaming) d.reason += ", weights streamed from cpu (sequential)";
  if (!d.evicted.empty()) d.reason += "; evicted " + std::to_string(d.evicted.size());
  if (!d.loaded.empty()) d.reason += "; loaded " + std::to_string(d.loaded.size());
  return d;
}

void MemoryArbiter::Impl::release_job(JobId id) {
  auto it = jobs.find(id);
  if (it == jobs.end()) {
    ++counters.double_releases;  // released twice or never admitted: harmless, counted
    return;
  }
  ArbiterJob job = std::move(it->second);
  jobs.erase(it);
  ++counters.releases;
  ledger.release(job.lease);
  auto& now = scratch_now[job.device.str()];
  now = job.scratch > now ? 0 : now - job.scratch;
  for (const auto& name : job.components) {
    auto c = components.find(name);
    if (c == components.end()) continue;
    if (c->second.job_pins > 0) --c->second.job_pins;
    // offload_idle: what no running job needs goes back to the host between jobs.
    auto& comp = c->second;
    if (mode == ArbiterMode::offload_idle && comp.job_pins == 0 && comp.resident && !comp.reg.pinned &&
        comp.reg.device.str() != kHost && comp.reg.callbacks.offload_to && room(kHost) >= comp.reg.bytes) {
      if (auto st = comp.reg.callbacks.offload_to(c10::Device(c10::kCPU)); st.ok()) {
        comp.reg.device = c10::Device(c10::kCPU);
        ++counters.idle_offloads;
        record(comp);
      } else {
        ++counters.callback_failures;
        util::log_warn("memory arbiter: idle offload of " + name + " failed: " + st.message());
      }
    }
  }
}

// ---- MemoryArbiter ------------------------------------------------------------------------

MemoryArbiter::MemoryArbiter(Ledger& ledger, ArbiterMode mode) : impl_(std::make_unique<Impl>(ledger, mode)) {}
MemoryArbiter::~MemoryArbiter() = default;

void MemoryArbiter::set_mode(ArbiterMode mode) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->mode = mode;
}

ArbiterMode MemoryArbiter::mode() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->mode;
}

void MemoryArbiter::set_budget(c10::Device device, std::uint64_t bytes) {
  impl_->ledger.set_budget(device, bytes);
  impl_->released.notify_all();  // a larger budget may let waiting jobs in
}

sdk::Status MemoryArbiter::register_component(ComponentRegistration registration) {
  if (registration.name.empty()) return sdk::invalid_argument("memory arbiter: a component needs a name");
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto& slot = impl_->components[registration.name];
  if (slot.job_pins > 0)
    return sdk::invalid_argument("memory arbiter: component '" + registration.name + "' is in use by a running job");
  slot = ArbiterComponent{};
  slot.reg = std::move(registration);
  impl_->record(slot);
  return {};
}

sdk::Status MemoryArbiter::unregister_component(const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto it = impl_->components.find(name);
  if (it == impl_->components.end()) return {};
  if (it->second.job_pins > 0)
    return sdk::invalid_argument("memory arbiter: component '" + name + "' is in use by a running job");
  impl_->ledger.forget_resident(name);
  impl_->components.erase(it);
  return {};
}

void MemoryArbiter::set_pinned(const std::string& name, bool pinned) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (auto it = impl_->components.find(name); it != impl_->components.end()) it->second.reg.pinned = pinned;
}

sdk::Result<AdmissionDecision> MemoryArbiter::admit(const JobFootprint& footprint) {
  const auto deadline = std::chrono::steady_clock::now() + footprint.wait;
  std::unique_lock<std::mutex> lock(impl_->mutex);
  for (;;) {
    auto r = impl_->try_admit(footprint);
    if (!r.ok()) {
      ++impl_->counters.rejected;
      util::log_warn(r.status().message());
      return r;
    }
    auto& d = r.value();
    if (d.ok) {
      if (!d.evicted.empty() || !d.loaded.empty() || d.tiled_vae || d.max_batch) util::log_info("memory arbiter: " + d.reason);
      return r;
    }
    if (footprint.wait.count() <= 0 || std::chrono::steady_clock::now() >= deadline) {
      ++impl_->counters.busy;
      return r;
    }
    ++impl_->counters.waits;
    impl_->released.wait_until(lock, deadline);
  }
}

void MemoryArbiter::release(JobId job) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->release_job(job);
  }
  impl_->released.notify_all();
}

std::optional<c10::Device> MemoryArbiter::location(const std::string& name) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto it = impl_->components.find(name);
  if (it == impl_->components.end() || !it->second.resident) return std::nullopt;
  return it->second.reg.device;
}

std::size_t MemoryArbiter::running_jobs() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->jobs.size();
}

MemoryArbiter& process_arbiter() {
  static MemoryArbiter arbiter(process_ledger());
  return arbiter;
}

}  // namespace sdxl::memory
