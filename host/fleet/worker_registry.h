#pragma once
// Workers advertise themselves for model-affinity routing: a hash per worker (models and LoRAs it
// holds in memory, the streams it reads, jobs done) that expires unless the worker's heartbeat
// renews it, plus a set of worker names so the gateway can find them. A worker that dies simply
// stops renewing; its hash expires and readers prune its name.

#include <cstdint>
#include <string>
#include <vector>

#include "fleet/fleet_keys.h"
#include "fleet/redis_connection.h"

namespace sdxl::fleet {

struct WorkerAdvert {
  std::string name;
  std::vector<std::string> models;  ///< resident model names (routing key of per-model streams)
  std::vector<std::string> loras;   ///< LoRA set currently merged
  std::vector<std::string> streams; ///< streams it reads
  std::string current_job;          ///< job id running now, empty when idle
  std::int64_t jobs_done = 0;
  std::int64_t pid = 0;
  std::int64_t updated_ms = 0;      ///< wall clock of the last heartbeat
};

/// Writes the advert with a TTL of `ttl_ms` (call every heartbeat, ttl a few heartbeats long).
sdk::Status advertise(RedisConnection& c, const FleetKeys& keys, const WorkerAdvert& a, std::int64_t ttl_ms);

/// Removes the advert at a clean shutdown.
sdk::Status withdraw(RedisConnection& c, const FleetKeys& keys, const std::string& name);

/// Adverts of live workers (hash not expired); names whose hash expired are removed from the set.
sdk::Result<std::vector<WorkerAdvert>> live_workers(RedisConnection& c, const FleetKeys& keys);

}  // namespace sdxl::fleet
