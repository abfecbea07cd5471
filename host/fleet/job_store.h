#pragma once
// Where a fleet job's outcome lives in Redis: a result hash per job (written once, atomically,
// with its final event), a progress-event stream per job, the last error of a job being retried,
// and the dead-letter stream. Writing the result is the commit point of a job: the worker
// acknowledges the stream entry only after store_result succeeded, and a job whose result already
// exists is acknowledged without running again (idempotent by job id).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fleet/fleet_keys.h"
#include "fleet/redis_connection.h"
#include "fleet/streams.h"

namespace sdxl::fleet {

/// What a finished job produced: PNG files (A1111 infotext inside) and metadata (seeds, timings…).
struct JobOutput {
  std::vector<std::string> images_png;
  nlohmann::json metadata = nlohmann::json::object();
};

/// A job's stored outcome as a client reads it back.
struct StoredResult {
  std::string status;  ///< "done" or "failed"
  std::string error;   ///< for "failed"
  std::string worker;
  nlohmann::json metadata = nlohmann::json::object();
  std::vector<std::string> images_png;
};

/// Stores a "done" result and appends the "done" event in one atomic step (a Lua script), unless
/// a result for `id` exists already. Returns true when this call stored it, false when another
/// delivery of the same job got there first.
sdk::Result<bool> store_result(RedisConnection& c, const FleetKeys& keys, const std::string& id,
                               const std::string& worker, const JobOutput& out, std::int64_t ttl_s);

/// The same for a job that failed for good ("failed" result + event); used with the dead letter.
sdk::Result<bool> store_failure(RedisConnection& c, const FleetKeys& keys, const std::string& id,
                                const std::string& worker, const std::string& error, std::int64_t ttl_s);

sdk::Result<bool> result_exists(RedisConnection& c, const FleetKeys& keys, const std::string& id);
sdk::Result<std::optional<StoredResult>> read_result(RedisConnection& c, const FleetKeys& keys, const std::string& id);

/// Appends an event (type queued|started|progress|done|failed, data JSON) to the job's stream,
/// capped at about 1000 entries, expiring with the result.
sdk::Status add_event(RedisConnection& c, const FleetKeys& keys, const std::string& id, const std::string& type,
                      const nlohmann::json& data, std::int64_t ttl_s);

/// The last error of a job that is left pending for a retry (read when it is dead-lettered).
sdk::Status remember_error(RedisConnection& c, const FleetKeys& keys, const std::string& id,
                           const std::string& error, std::int64_t ttl_s);
sdk::Result<std::string> last_error(RedisConnection& c, const FleetKeys& keys, const std::string& id);

/// A dead-lettered job: where it came from, its payload and why it was given up.
struct DeadLetter {
  std::string job_id, stream, entry_id, job_json, error, worker;
  std::int64_t deliveries = 0;
};
sdk::Status add_dead_letter(RedisConnection& c, const FleetKeys& keys, const DeadLetter& d);
sdk::Result<std::vector<DeadLetter>> read_dead_letters(RedisConnection& c, const FleetKeys& keys);

}  // namespace sdxl::fleet
