#pragma once
// The fleet worker loop: reads jobs from Redis Streams as one consumer of a consumer group, runs
// them through a JobRunner (in `sdxl worker`: the orchestrator), stores the result, then acks.
//
// Delivery is at-least-once and completion exactly-once:
//  - an entry is acknowledged only after its result is stored (store_result is atomic and
//    write-once), so a crash between run and store just means another delivery;
//  - an entry whose job already has a result is acknowledged without running (idempotent by id);
//  - entries left pending by a dead worker are taken over with XAUTOCLAIM once idle longer than
//    claim_idle_ms; a live worker keeps its running entry fresh (XCLAIM JUSTID from the heartbeat),
//    so long jobs are not stolen from it;
//  - a job delivered more than max_attempts times, or refused as invalid, goes to the dead-letter
//    stream with its error and gets a "failed" result, instead of looping.
// Redis outages: every operation that fails for lack of a connection is retried after a short
// backoff; the loop reconnects and re-creates consumer groups (a restarted Redis without
// persistence has none) and carries on.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "fleet/fleet_keys.h"
#include "fleet/job_store.h"
#include "fleet/redis_connection.h"
#include "fleet/streams.h"

namespace sdxl::fleet {

using ProgressFn = std::function<void(std::int64_t step, std::int64_t total)>;

/// What the worker runs jobs with. Errors with code invalid_argument, not_found, unsupported or
/// corrupt_data are final (the job itself is wrong: dead-lettered at once); any other error is
/// retried on a later delivery, up to max_attempts.
class JobRunner {
 public:
  virtual ~JobRunner() = default;
  virtual sdk::Result<JobOutput> run(const std::string& job_id, const std::string& job_json,
                                     const ProgressFn& progress) = 0;
  /// Models and LoRAs held in memory now (advertised for affinity routing).
  virtual std::vector<std::string> models() const { return {}; }
  virtual std::vector<std::string> loras() const { return {}; }
};

struct WorkerOptions {
  RedisEndpoint endpoint;
  FleetKeys keys;
  std::string group = "workers";
  std::string consumer;                ///< unique per worker; default host-pid
  std::int64_t claim_idle_ms = 30000;  ///< take over entries pending longer than this
  std::int64_t max_attempts = 3;       ///< deliveries before the dead letter
  int block_ms = 500;                  ///< XREADGROUP BLOCK time (also the stop-check period)
  std::int64_t heartbeat_ms = 1000;    ///< advert renewal and running-entry refresh
  std::int64_t result_ttl_s = 86400;   ///< results and events expire after this
  std::int64_t max_jobs = 0;           ///< stop after this many completed jobs (0: never; benches)
};

struct WorkerCounters {
  std::atomic<std::int64_t> completed{0}, duplicates{0}, dead_lettered{0}, retried{0}, reconnects{0};
};

class FleetWorker {
 public:
  FleetWorker(WorkerOptions options, JobRunner& runner);
  /// Runs until `stop` becomes true (checked at least every block_ms) or max_jobs are done.
  sdk::Status run(const std::atomic<bool>& stop);
  const WorkerCounters& counters() const { return counters_; }
  const WorkerOptions& options() const { return options_; }

 private:
  enum class Outcome { handled, connection_lost };
  Outcome process(RedisConnection& c, const StreamEntry& entry);
  Outcome dead_letter(RedisConnection& c, const StreamEntry& entry, const std::string& job_id, const std::string& error,
                      std::int64_t deliveries);
  std::vector<std::string> streams_to_read() const;
  bool ensure_groups(RedisConnection& c, const std::vector<std::string>& streams);
  void heartbeat_loop();
  bool stopping() const { return halt_ || (user_stop_ && user_stop_->load()); }

  WorkerOptions options_;
  JobRunner& runner_;
  WorkerCounters counters_;
  const std::atomic<bool>* user_stop_ = nullptr;
  std::atomic<bool> halt_{false};  ///< set when run() ends (stop requested or max_jobs reached)
  std::set<std::string> groups_ready_;  ///< streams whose group exists (cleared on reconnect)

  mutable std::mutex mutex_;  ///< guards the fields shared with the heartbeat thread
  std::vector<std::string> orphan_streams_;  ///< per-model streams no live worker advertises
  std::string running_stream_, running_entry_, running_job_;
};

/// host-pid: a consumer name unique on one machine and recognisable in XINFO CONSUMERS.
std::string default_consumer_name();

}  // namespace sdxl::fleet
