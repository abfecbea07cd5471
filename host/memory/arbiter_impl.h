#pragma once
// Internal state of MemoryArbiter, shared by arbiter.cpp (policy) and arbiter_stats.cpp
// (statistics). Not part of the public interface.

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include "memory/arbiter.h"

namespace sdxl::memory {

struct ArbiterComponent {
  ComponentRegistration reg;   // reg.device = where the weights are when `resident`
  bool resident = true;        // false after drop()
  int job_pins = 0;            // running jobs that need it
  std::uint64_t last_used = 0; // arbiter clock at the last admission that needed it (LRU key)
  std::uint64_t loads = 0, evictions = 0, hits = 0, misses = 0;
};

struct ArbiterJob {
  std::string label;
  std::vector<std::string> components;
  c10::Device device = c10::Device(c10::kCPU);
  sdk::LeaseId lease = 0;
  std::uint64_t scratch = 0;
};

struct ArbiterCounters {
  std::uint64_t admitted = 0, busy = 0, rejected = 0, reshaped = 0;
  std::uint64_t evictions = 0, offloads = 0, drops = 0, idle_offloads = 0;
  std::uint64_t loads = 0, reloads = 0, hits = 0, misses = 0;
  std::uint64_t releases = 0, double_releases = 0, callback_failures = 0;
  std::uint64_t waits = 0;
};

class MemoryArbiter::Impl {
 public:
  Impl(Ledger& l, ArbiterMode m) : ledger(l), mode(m) {}

  Ledger& ledger;
  ArbiterMode mode;
  mutable std::mutex mutex;
  std::condition_variable released;  // signalled whenever a job releases (waiting admits retry)
  std::map<std::string, ArbiterComponent> components;
  std::map<JobId, ArbiterJob> jobs;
  ArbiterCounters counters;
  std::uint64_t clock = 0;
  JobId next_job = 1;
  // Peak bytes of scratch reserved at once per device (weights peaks are the ledger's).
  std::map<std::string, std::uint64_t> scratch_now, scratch_peak;

  // Policy steps (arbiter.cpp); every one runs with `mutex` held.
  sdk::Result<AdmissionDecision> try_admit(const JobFootprint& fp);
  void release_job(JobId job);
  std::uint64_t budget(const std::string& device) const;
  std::uint64_t room(const std::string& device) const;  // budget - used (UINT64_MAX: unlimited)
  bool evictable(const ArbiterComponent& c, const std::set<std::string>& needed) const;
  // Evicts LRU components on `device` until `bytes` fit; false when it cannot (busy).
  bool make_room(const std::string& device, std::uint64_t bytes, const std::set<std::string>& needed,
                 std::vector<std::string>& evicted);
  sdk::Status evict(ArbiterComponent& c, std::vector<std::string>& evicted);
  sdk::Status bring(ArbiterComponent& c, c10::Device target, std::vector<std::string>& loaded);
  void record(const ArbiterComponent& c);  // mirror the component's state into the ledger
};

}  // namespace sdxl::memory
