#include "memory/ledger.h"

#include <cstdio>
#include <cstdlib>

namespace sdxl::memory {

void Ledger::set_budget(c10::Device device, std::uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  accounts_[key(device)].budget = bytes;
}

void Ledger::add(const std::string& device, std::uint64_t bytes) {
  auto& a = accounts_[device];
  a.used += bytes;
  if (a.used > a.peak) a.peak = a.used;
}

void Ledger::sub(const std::string& device, std::uint64_t bytes) {
  auto& a = accounts_[device];
  a.used = bytes > a.used ? 0 : a.used - bytes;
}

sdk::Result<sdk::LeaseId> Ledger::acquire(std::string_view tag, c10::Device device, std::uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string dev = key(device);
  auto& a = accounts_[dev];
  if (a.budget != 0 && a.used + bytes > a.budget)
    return sdk::Status(sdk::StatusCode::out_of_memory,
                       "memory lease '" + std::string(tag) + "' of " + std::to_string(bytes) + " bytes on " + dev +
                           " refused: " + std::to_string(a.budget - std::min(a.budget, a.used)) + " bytes left of a " +
                           std::to_string(a.budget) + "-byte budget");
  const sdk::LeaseId id = next_id_++;
  leases_[id] = LedgerEntry{std::string(tag), dev, bytes, true};
  add(dev, bytes);
  return id;
}

void Ledger::release(sdk::LeaseId id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return;  // unknown or already released: releasing twice is harmless
  sub(it->second.device, it->second.bytes);
  leases_.erase(it);
}

std::uint64_t Ledger::available(c10::Device device) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = accounts_.find(key(device));
  if (it == accounts_.end() || it->second.budget == 0) return UINT64_MAX;
  return it->second.budget > it->second.used ? it->second.budget - it->second.used : 0;
}

void Ledger::record_resident(const std::string& component, c10::Device device, std::uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = resident_.find(component); it != resident_.end()) {
    sub(it->second.device, it->second.bytes);
    resident_.erase(it);
  }
  const std::string dev = key(device);
  resident_[component] = LedgerEntry{component, dev, bytes, false};
  add(dev, bytes);
}

void Ledger::forget_resident(const std::string& component) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = resident_.find(component);
  if (it == resident_.end()) return;
  sub(it->second.device, it->second.bytes);
  resident_.erase(it);
}

std::vector<LedgerEntry> Ledger::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<LedgerEntry> out;
  for (const auto& [_, e] : resident_) out.push_back(e);
  for (const auto& [_, e] : leases_) out.push_back(e);
  return out;
}

std::map<std::string, DeviceAccount> Ledger::accounts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return accounts_;
}

bool is_budget_fraction(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  return end != text.c_str() && *end == '\0' && v > 0 && v <= 1.0;
}

sdk::Result<std::uint64_t> parse_budget(const std::string& text, std::uint64_t available) {
  if (text.empty()) return std::uint64_t{0};
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  std::string unit(end);
  if (end == text.c_str() || !(v > 0)) return sdk::invalid_argument("memory budget '" + text + "': expected a size or a fraction");
  if (is_budget_fraction(text)) {
    if (available == 0) return sdk::invalid_argument("memory budget '" + text + "': a fraction needs the available memory, unknown here");
    return static_cast<std::uint64_t>(v * static_cast<double>(available));
  }
  static const std::map<std::string, double> units = {{"", 1.0}, {"B", 1.0}, {"KiB", 1024.0}, {"MiB", 1048576.0},
                                                      {"GiB", 1073741824.0}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}};
  auto it = units.find(unit);
  if (it == units.end()) return sdk::invalid_argument("memory budget '" + text + "': unknown unit '" + unit + "' (B, KiB, MiB, GiB, KB, MB, GB)");
  return static_cast<std::uint64_t>(v * it->second);
}

std::uint64_t available_host_memory() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  std::uint64_t kib = 0;
  while (std::fgets(line, sizeof(line), f))
    if (std::sscanf(line, "MemAvailable: %lu kB", &kib) == 1) break;
  std::fclose(f);
  return kib * 1024;
}

Ledger& process_ledger() {
  static Ledger ledger;
  return ledger;
}

}  // namespace sdxl::memory
