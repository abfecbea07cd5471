#pragma once
// The client side of the fleet (a gateway or any program): submit jobs with model-affinity
// routing, read results back.
//
// Routing: a job naming a model goes to that model's stream when a live worker advertises the
// model (it will take it without switching models); otherwise to the shared stream, which every
// worker reads. Per-model streams are registered in a set so that, should their last worker die,
// the others drain them as a fallback.

#include <chrono>
#include <optional>
#include <string>

#include "fleet/fleet_keys.h"
#include "fleet/job_store.h"
#include "fleet/redis_connection.h"

namespace sdxl::fleet {

struct SubmitReceipt {
  std::string id;         ///< job id: the JSON's "id" if it had one (removed from the payload), else generated
  std::string stream;     ///< where it was queued
  std::string entry_id;   ///< stream entry id
};

/// Queues one job (the native API's JSON object). Refuses non-objects and non-string ids.
sdk::Result<SubmitReceipt> submit_job(RedisConnection& c, const FleetKeys& keys, const std::string& job_json,
                                      std::int64_t result_ttl_s = 86400);

/// Polls until the job has a result (done or failed) or `timeout` passes (then nullopt).
sdk::Result<std::optional<StoredResult>> wait_result(RedisConnection& c, const FleetKeys& keys, const std::string& id,
                                                     std::chrono::milliseconds timeout);

/// A random 128-bit id as 32 hex digits.
std::string new_job_id();

}  // namespace sdxl::fleet
