#pragma once
// The memory ledger: one account of every byte the worker holds per device — resident component
// weights and short-lived scratch leases — checked against per-device budgets.
//
// This is the accounting core the memory arbiter builds on (eviction and admission come later);
// it already implements the SDK's MemoryLeases, so plugins ask before allocating.
// Thread rules: all members are thread-safe (one mutex). Ownership: plain bookkeeping; it owns no
// tensors.

#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "sdxl/sdk/host_services.h"

namespace sdxl::memory {

struct LedgerEntry {
  std::string tag;  ///< component name ("unet", "vae") or lease tag ("vae.kl.decode")
  std::string device;
  std::uint64_t bytes = 0;
  bool lease = false;  ///< true for scratch leases, false for resident weights
};

struct DeviceAccount {
  std::uint64_t budget = 0;  ///< 0 = unlimited
  std::uint64_t used = 0;
  std::uint64_t peak = 0;
};

class Ledger : public sdk::MemoryLeases {
 public:
  /// `bytes` = 0 removes the limit.
  void set_budget(c10::Device device, std::uint64_t bytes);

  sdk::Result<sdk::LeaseId> acquire(std::string_view tag, c10::Device device, std::uint64_t bytes) override;
  void release(sdk::LeaseId id) override;
  std::uint64_t available(c10::Device device) const override;

  /// Resident weights of a component; recording the same component again replaces its entry.
  void record_resident(const std::string& component, c10::Device device, std::uint64_t bytes);
  void forget_resident(const std::string& component);

  std::vector<LedgerEntry> entries() const;
  std::map<std::string, DeviceAccount> accounts() const;

 private:
  static std::string key(c10::Device d) { return d.str(); }
  void add(const std::string& device, std::uint64_t bytes);
  void sub(const std::string& device, std::uint64_t bytes);

  mutable std::mutex mutex_;
  std::map<std::string, DeviceAccount> accounts_;
  std::map<sdk::LeaseId, LedgerEntry> leases_;
  std::map<std::string, LedgerEntry> resident_;
  sdk::LeaseId next_id_ = 1;
};

/// "24GiB", "512MiB", "1.5GB", "1000000" (bytes) → bytes; "0.8" → that fraction of `available`.
/// Empty → 0 (unlimited). Errors name the text.
sdk::Result<std::uint64_t> parse_budget(const std::string& text, std::uint64_t available);
/// Whether parse_budget reads `text` as a fraction of the available memory: a number in (0, 1]
/// without a unit ("0.8", "1"; not "1000000" bytes nor "2GiB").
bool is_budget_fraction(const std::string& text);

/// MemAvailable from /proc/meminfo, in bytes (0 when unknown).
std::uint64_t available_host_memory();

/// The process-wide ledger used by default.
Ledger& process_ledger();

}  // namespace sdxl::memory
