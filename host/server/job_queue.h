#pragma once
// The waiting room of the orchestrator: which queued job runs next.
//
//  1. Priority: only jobs of the highest waiting priority are candidates.
//  2. Affinity: among those, jobs whose affinity key (model + LoRA set) matches what is loaded go
//     first — unless the oldest candidate has waited longer than `max_wait_s`, then all count.
//  3. Fairness: the client served least recently (never served counts as longest ago) gets the
//     turn, with its oldest job; ties go to the earlier submission. Clients at equal priority
//     therefore take turns (round robin) however many jobs each one queues.
// Batch mates are taken separately with take_if (priority, then submission order).
//
// Thread rules: none (the orchestrator holds its lock around every call).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sdxl::server {

struct QueueEntry {
  std::string id;
  std::int64_t priority = 0;
  std::string client;
  std::uint64_t seq = 0;  ///< submission order
  std::chrono::steady_clock::time_point submitted;
  std::string affinity;   ///< model + LoRA set
};

class JobQueue {
 public:
  void push(QueueEntry e);
  bool remove(const std::string& id);
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

  /// Removes and returns the job that runs next (rules 1–3) and records its client as served.
  std::optional<QueueEntry> pop_next(const std::string& loaded_affinity, std::chrono::steady_clock::time_point now,
                                     double max_wait_s);
  /// Removes and returns the entries `accept` says yes to, offered in priority, then submission,
  /// order (accept may keep a budget and say no once it is spent).
  std::vector<QueueEntry> take_if(const std::function<bool(const QueueEntry&)>& accept);
  /// Ids in the order pop_next would return them (a simulation on a copy).
  std::vector<std::string> order(const std::string& loaded_affinity, std::chrono::steady_clock::time_point now,
                                 double max_wait_s) const;
  /// Empties the queue (shutdown), in submission order.
  std::vector<QueueEntry> drain();
  /// All entries, unordered (timeout scans).
  const std::vector<QueueEntry>& entries() const { return items_; }

 private:
  std::vector<QueueEntry> items_;  // small (bounded by max_queue): linear scans are fine
  std::map<std::string, std::uint64_t> last_served_;
  std::uint64_t serve_counter_ = 0;
};

}  // namespace sdxl::server
