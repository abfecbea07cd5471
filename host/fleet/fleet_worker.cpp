#include "fleet/fleet_worker.h"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "fleet/worker_registry.h"
#include "util/logging.h"

namespace sdxl::fleet {
namespace {

using Clock = std::chrono::steady_clock;

bool is_final(sdk::StatusCode code) {
  return code == sdk::StatusCode::invalid_argument || code == sdk::StatusCode::not_found ||
         code == sdk::StatusCode::unsupported || code == sdk::StatusCode::corrupt_data;
}

// Sleeps in small slices so a stop request is honoured quickly.
template <typename Stopping>
void nap(std::chrono::milliseconds total, const Stopping& stop) {
  const auto end = Clock::now() + total;
  while (!stop() && Clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace

std::string default_consumer_name() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return std::string(host[0] ? host : "worker") + "-" + std::to_string(getpid());
}

FleetWorker::FleetWorker(WorkerOptions options, JobRunner& runner) : options_(std::move(options)), runner_(runner) {
  if (options_.consumer.empty()) options_.consumer = default_consumer_name();
}

std::vector<std::string> FleetWorker::streams_to_read() const {
  // Own models first (affinity), then the shared stream, then per-model streams nobody serves.
  std::vector<std::string> out;
  auto add = [&](const std::string& s) {
    for (const auto& o : out)
      if (o == s) return;
    out.push_back(s);
  };
  for (const auto& m : runner_.models()) add(options_.keys.model_stream(m));
  add(options_.keys.shared_stream());
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& s : orphan_streams_) add(s);
  return out;
}

bool FleetWorker::ensure_groups(RedisConnection& c, const std::vector<std::string>& streams) {
  for (const auto& s : streams) {
    if (groups_ready_.count(s)) continue;
    if (auto st = ensure_group(c, s, options_.group); !st.ok()) {
      if (c.connected()) util::log_warn("fleet: " + st.message());
      return false;
    }
    groups_ready_.insert(s);
  }
  return true;
}

FleetWorker::Outcome FleetWorker::dead_letter(RedisConnection& c, const StreamEntry& entry, const std::string& job_id,
                                              const std::string& error, std::int64_t deliveries) {
  util::log_warn("fleet: job " + job_id + " dead-lettered after " + std::to_string(deliveries) +
                 " deliveries: " + error);
  DeadLetter d{job_id, entry.stream, entry.id, entry.field("job"), error, options_.consumer, deliveries};
  // Dead letter first, then the failed result, then the ack: a crash in between repeats the dead
  // letter at worst (consumers of the dead-letter stream de-duplicate by id) but never drops it.
  if (auto st = add_dead_letter(c, options_.keys, d); !st.ok()) return Outcome::connection_lost;
  if (auto r = store_failure(c, options_.keys, job_id, options_.consumer, error, options_.result_ttl_s); !r.ok())
    return Outcome::connection_lost;
  if (auto st = ack(c, entry.stream, options_.group, entry.id); !st.ok()) return Outcome::connection_lost;
  ++counters_.dead_lettered;
  return Outcome::handled;
}

FleetWorker::Outcome FleetWorker::process(RedisConnection& c, const StreamEntry& entry) {
  const std::string job_id = entry.field("id").empty() ? entry.id : entry.field("id");
  const auto lost = [&](const sdk::Status& st) {
    if (!c.connected()) return Outcome::connection_lost;
    util::log_warn("fleet: job " + job_id + ": " + st.message());
    return Outcome::handled;  // left pending; a later claim retries it
  };
  auto done = result_exists(c, options_.keys, job_id);
  if (!done.ok()) return lost(done.status());
  if (done.value()) {  // another delivery finished it already: acknowledge, do not run again
    ++counters_.duplicates;
    auto st = ack(c, entry.stream, options_.group, entry.id);
    return st.ok() ? Outcome::handled : lost(st);
  }
  auto info = pending_info(c, entry.stream, options_.group, entry.id);
  if (!info.ok()) return lost(info.status());
  const std::int64_t deliveries = std::max<std::int64_t>(1, info.value().deliveries);
  if (deliveries > options_.max_attempts) {
    auto previous = last_error(c, options_.keys, job_id);
    const std::string why = previous.ok() && !previous.value().empty()
                                ? previous.value()
                                : "no worker finished it (each one stopped or crashed while running it)";
    return dead_letter(c, entry, job_id, "gave up after " + std::to_string(deliveries) + " deliveries: " + why,
                       deliveries);
  }
  if (entry.field("job").empty())
    return dead_letter(c, entry, job_id, "stream entry " + entry.id + " has no 'job' field", deliveries);

  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_stream_ = entry.stream;
    running_entry_ = entry.id;
    running_job_ = job_id;
  }
  const auto ttl = options_.result_ttl_s;
  add_event(c, options_.keys, job_id, "started", {{"worker", options_.consumer}, {"attempt", deliveries}}, ttl);
  const ProgressFn progress = [&](std::int64_t step, std::int64_t total) {
    add_event(c, options_.keys, job_id, "progress", {{"step", step}, {"total", total}, {"worker", options_.consumer}}, ttl);
  };
  auto result = runner_.run(job_id, entry.field("job"), progress);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_stream_.clear();
    running_entry_.clear();
    running_job_.clear();
  }
  if (!result.ok()) {
    const auto& st = result.status();
    if (is_final(st.code())) return dead_letter(c, entry, job_id, st.message(), deliveries);
    ++counters_.retried;
    util::log_warn("fleet: job " + job_id + " failed (attempt " + std::to_string(deliveries) + " of " +
                   std::to_string(options_.max_attempts) + "), left for a retry: " + st.message());
    auto r = remember_error(c, options_.keys, job_id, st.message(), ttl);
    return r.ok() ? Outcome::handled : lost(r);
  }
  // The result is the commit point: keep trying through an outage rather than lose finished work.
  std::chrono::milliseconds backoff(100);
  for (bool waited = false;; waited = true) {
    auto stored = store_result(c, options_.keys, job_id, options_.consumer, result.value(), ttl);
    if (stored.ok()) {
      stored.value() ? ++counters_.completed : ++counters_.duplicates;
      if (waited) {
        util::log_info("fleet: redis reachable again; result of job " + job_id + " stored");
        ++counters_.reconnects;
      }
      break;
    }
    if (c.connected()) return lost(stored.status());
    if (!waited) util::log_warn("fleet: redis unreachable while storing job " + job_id + " (" +
                                stored.status().message() + "); retrying");
    if (stopping()) return Outcome::connection_lost;  // left pending: another worker re-runs it
    nap(backoff, [this] { return stopping(); });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
  for (int tries = 0; tries < 50; ++tries) {
    auto st = ack(c, entry.stream, options_.group, entry.id);
    if (st.ok() || c.connected()) break;  // an unacked entry with a result is acked at its next claim
    nap(backoff, [this] { return stopping(); });
    if (stopping()) break;
  }
  return Outcome::handled;
}

void FleetWorker::heartbeat_loop() {
  RedisConnection c(options_.endpoint, std::chrono::milliseconds(5000));
  const std::string model_prefix = options_.keys.model_stream("");
  while (!stopping()) {
    WorkerAdvert a;
    a.name = options_.consumer;
    a.models = runner_.models();
    a.loras = runner_.loras();
    a.streams = streams_to_read();
    a.jobs_done = counters_.completed;
    a.pid = getpid();
    std::string stream, entry;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      a.current_job = running_job_;
      stream = running_stream_;
      entry = running_entry_;
    }
    // The running entry's idle time is reset so other workers do not reclaim a live job.
    if (!entry.empty()) touch_pending(c, stream, options_.group, options_.consumer, entry);
    advertise(c, options_.keys, a, options_.heartbeat_ms * 3);
    // Per-model streams whose model no live worker holds: drained by everyone as a fallback.
    auto live = live_workers(c, options_.keys);
    auto all = c.command({"SMEMBERS", options_.keys.model_streams_set()});
    if (live.ok() && all.ok()) {
      std::set<std::string> served;
      for (const auto& w : live.value())
        for (const auto& m : w.models) served.insert(options_.keys.model_stream(m));
      std::vector<std::string> orphans;
      for (const auto& s : all.value().elements)
        if (!served.count(s.str) && s.str.rfind(model_prefix, 0) == 0) orphans.push_back(s.str);
      std::lock_guard<std::mutex> lock(mutex_);
      orphan_streams_ = std::move(orphans);
    }
    nap(std::chrono::milliseconds(options_.heartbeat_ms), [this] { return stopping(); });
  }
  withdraw(c, options_.keys, options_.consumer);
}

sdk::Status FleetWorker::run(const std::atomic<bool>& stop) {
  user_stop_ = &stop;
  halt_ = false;
  const auto stopping = [this] { return this->stopping(); };
  std::thread heartbeat([this] { heartbeat_loop(); });
  RedisConnection c(options_.endpoint, std::chrono::milliseconds(options_.block_ms + 5000));
  std::chrono::milliseconds backoff(100);
  bool outage = false;
  auto last_claim = Clock::now() - std::chrono::hours(1);
  const auto claim_period = std::chrono::milliseconds(std::max<std::int64_t>(100, options_.claim_idle_ms / 2));
  util::log_info("fleet: worker " + options_.consumer + " joined group '" + options_.group + "' on " +
                 options_.endpoint.text() + " stream " + options_.keys.shared_stream());

  auto on_outage = [&](const std::string& why) {
    if (!outage) util::log_warn("fleet: redis unreachable (" + why + "); retrying");
    outage = true;
    groups_ready_.clear();  // a restarted Redis may have lost them
    nap(backoff, stopping);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  };
  auto handle = [&](const std::vector<StreamEntry>& entries) {
    for (const auto& e : entries) {
      if (process(c, e) == Outcome::connection_lost) return on_outage("while handling a job"), false;
      if (options_.max_jobs > 0 && counters_.completed >= options_.max_jobs) return false;
    }
    return true;
  };

  const auto quota_met = [this] { return options_.max_jobs > 0 && counters_.completed >= options_.max_jobs; };
  while (!stopping()) {
    if (quota_met()) break;
    const auto streams = streams_to_read();
    if (!ensure_groups(c, streams)) {
      if (!c.connected()) on_outage(c.endpoint().text());
      else nap(backoff, stopping);
      continue;
    }
    if (outage) {
      util::log_info("fleet: redis reachable again");
      ++counters_.reconnects;
      outage = false;
      backoff = std::chrono::milliseconds(100);
    }
    if (Clock::now() - last_claim >= claim_period) {  // take over entries of dead workers
      last_claim = Clock::now();
      for (const auto& s : streams) {
        auto claimed = auto_claim(c, s, options_.group, options_.consumer, options_.claim_idle_ms, 1);
        if (!claimed.ok()) {
          if (!c.connected()) break;
          groups_ready_.erase(s);  // NOGROUP after a restart: re-created next round
          continue;
        }
        if (!claimed.value().empty())
          util::log_info("fleet: claimed entry " + claimed.value()[0].id + " of " + s + " (idle > " +
                         std::to_string(options_.claim_idle_ms) + " ms)");
        if (!handle(claimed.value())) break;
      }
      if (!c.connected()) {
        if (!outage) on_outage("XAUTOCLAIM");
        continue;
      }
    }
    if (stopping() || quota_met()) continue;
    auto fresh = read_group(c, options_.group, options_.consumer, streams, 1, options_.block_ms);
    if (!fresh.ok()) {
      if (!c.connected()) on_outage(fresh.status().message());
      else {
        if (is_reply_error(fresh.status(), "NOGROUP")) groups_ready_.clear();
        else util::log_warn("fleet: " + fresh.status().message());
        nap(backoff, stopping);
      }
      continue;
    }
    handle(fresh.value());
  }
  halt_ = true;
  heartbeat.join();
  util::log_info("fleet: worker " + options_.consumer + " stopped after " + std::to_string(counters_.completed) +
                 " job(s)");
  return {};
}

}  // namespace sdxl::fleet
