#pragma once
// Redis Streams and consumer-group operations used by the fleet, as typed functions over one
// RedisConnection. Each returns the connection's error unchanged, so callers can tell an outage
// (connection.connected() == false) from a refused command.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fleet/redis_connection.h"

namespace sdxl::fleet {

using Fields = std::vector<std::pair<std::string, std::string>>;

struct StreamEntry {
  std::string stream;  ///< the stream it came from
  std::string id;      ///< entry id "ms-seq"
  Fields fields;
  /// Value of field `name`, empty when absent.
  std::string field(const std::string& name) const;
};

/// XGROUP CREATE stream group 0 MKSTREAM; an existing group is fine (BUSYGROUP). From id 0 so
/// that entries added before any worker started are delivered too.
sdk::Status ensure_group(RedisConnection& c, const std::string& stream, const std::string& group);

/// XADD stream [MAXLEN ~ N] * fields… → the new entry id. max_len 0: unbounded.
sdk::Result<std::string> add_entry(RedisConnection& c, const std::string& stream, const Fields& fields,
                                   std::int64_t max_len = 0);

/// XREADGROUP GROUP g consumer COUNT n BLOCK ms STREAMS s1 s2 … > > …: new entries, in stream
/// order of `streams` (earlier streams first within the reply). Empty on timeout.
sdk::Result<std::vector<StreamEntry>> read_group(RedisConnection& c, const std::string& group,
                                                 const std::string& consumer,
                                                 const std::vector<std::string>& streams, int count,
                                                 int block_ms);

/// XAUTOCLAIM stream group consumer min_idle 0-0 COUNT n: takes over entries pending longer than
/// `min_idle_ms` (their delivery count goes up by one). Entries deleted from the stream while
/// pending are dropped from the pending list by Redis 7 and not returned.
sdk::Result<std::vector<StreamEntry>> auto_claim(RedisConnection& c, const std::string& stream,
                                                 const std::string& group, const std::string& consumer,
                                                 std::int64_t min_idle_ms, int count);

/// XCLAIM … 0 id JUSTID by the owner itself: resets the entry's idle time without counting a
/// delivery, so a long job is not reclaimed from a live worker.
sdk::Status touch_pending(RedisConnection& c, const std::string& stream, const std::string& group,
                          const std::string& consumer, const std::string& id);

struct PendingInfo {
  std::string consumer;
  std::int64_t idle_ms = 0;
  std::int64_t deliveries = 0;
};
/// XPENDING stream group id id 1 → who holds the entry and how often it was delivered; nullopt-like
/// (deliveries 0, empty consumer) when it is not pending.
sdk::Result<PendingInfo> pending_info(RedisConnection& c, const std::string& stream, const std::string& group,
                                      const std::string& id);

/// XACK stream group id.
sdk::Status ack(RedisConnection& c, const std::string& stream, const std::string& group, const std::string& id);

/// Number of entries pending in the group (XPENDING summary count).
sdk::Result<std::int64_t> pending_count(RedisConnection& c, const std::string& stream, const std::string& group);

/// XRANGE stream - + (all entries; for small streams: events, dead letters, tests).
sdk::Result<std::vector<StreamEntry>> range_all(RedisConnection& c, const std::string& stream);

}  // namespace sdxl::fleet
