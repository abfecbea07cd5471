// MemoryArbiter statistics: one JSON object (for `sdxl status` and /v1 endpoints) and the same
// figures as Prometheus text exposition lines (for /metrics).

#include <sstream>

#include "memory/arbiter.h"
#include "memory/arbiter_impl.h"

namespace sdxl::memory {
namespace {

double hit_rate(const ArbiterCounters& c) {
  const std::uint64_t total = c.hits + c.misses;
  return total == 0 ? 1.0 : static_cast<double>(c.hits) / static_cast<double>(total);
}

// Prometheus label values escape backslash, quote and newline.
std::string label(const std::string& v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\' || ch == '"') out += '\\';
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out += ch;
  }
  return out;
}

}  // namespace

nlohmann::json MemoryArbiter::stats_json() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  const auto& k = impl_->counters;
  nlohmann::json out;
  out["mode"] = to_string(impl_->mode);
  out["running_jobs"] = impl_->jobs.size();
  nlohmann::json devices = nlohmann::json::object();
  for (const auto& [dev, a] : impl_->ledger.accounts()) {
    std::uint64_t weights = 0;
    for (const auto& [_, c] : impl_->components)
      if (c.resident && c.reg.device.str() == dev) weights += c.reg.bytes;
    auto now = impl_->scratch_now.find(dev);
    auto peak = impl_->scratch_peak.find(dev);
    devices[dev] = {{"budget_bytes", a.budget},
                    {"used_bytes", a.used},
                    {"peak_bytes", a.peak},
                    {"component_bytes", weights},
                    {"job_scratch_bytes", now == impl_->scratch_now.end() ? 0 : now->second},
                    {"job_scratch_peak_bytes", peak == impl_->scratch_peak.end() ? 0 : peak->second}};
  }
  out["devices"] = devices;
  nlohmann::json comps = nlohmann::json::object();
  for (const auto& [name, c] : impl_->components)
    comps[name] = {{"device", c.resident ? c.reg.device.str() : std::string("dropped")},
                   {"bytes", c.reg.bytes},
                   {"pinned", c.reg.pinned},
                   {"job_pins", c.job_pins},
                   {"loads", c.loads},
                   {"evictions", c.evictions},
                   {"hits", c.hits},
                   {"misses", c.misses}};
  out["components"] = comps;
  out["jobs"] = {{"admitted", k.admitted}, {"busy", k.busy},         {"rejected", k.rejected},
                 {"reshaped", k.reshaped}, {"released", k.releases}, {"double_releases", k.double_releases},
                 {"waits", k.waits}};
  out["evictions"] = k.evictions;
  out["offloads"] = k.offloads;
  out["drops"] = k.drops;
  out["idle_offloads"] = k.idle_offloads;
  out["loads"] = k.loads;
  out["reloads"] = k.reloads;
  out["hits"] = k.hits;
  out["misses"] = k.misses;
  out["hit_rate"] = hit_rate(k);
  out["callback_failures"] = k.callback_failures;
  return out;
}

std::string MemoryArbiter::prometheus_text() const {
  const nlohmann::json s = stats_json();
  std::ostringstream o;
  auto family = [&](const char* name, const char* type, const char* help) {
    o << "# HELP sdxl_memory_" << name << ' ' << help << "\n# TYPE sdxl_memory_" << name << ' ' << type << '\n';
  };
  family("budget_bytes", "gauge", "Memory budget per device (0 = unlimited).");
  for (const auto& [dev, d] : s["devices"].items())
    o << "sdxl_memory_budget_bytes{device=\"" << label(dev) << "\"} " << d["budget_bytes"].get<std::uint64_t>() << '\n';
  family("used_bytes", "gauge", "Bytes accounted per device: component weights plus leases.");
  for (const auto& [dev, d] : s["devices"].items())
    o << "sdxl_memory_used_bytes{device=\"" << label(dev) << "\"} " << d["used_bytes"].get<std::uint64_t>() << '\n';
  family("peak_bytes", "gauge", "Highest accounted bytes per device since start.");
  for (const auto& [dev, d] : s["devices"].items())
    o << "sdxl_memory_peak_bytes{device=\"" << label(dev) << "\"} " << d["peak_bytes"].get<std::uint64_t>() << '\n';
  family("job_scratch_bytes", "gauge", "Scratch reserved by admitted jobs per device.");
  for (const auto& [dev, d] : s["devices"].items())
    o << "sdxl_memory_job_scratch_bytes{device=\"" << label(dev) << "\"} " << d["job_scratch_bytes"].get<std::uint64_t>()
      << '\n';
  family("component_bytes", "gauge", "Weights per registered component and where they are (dropped = not resident).");
  for (const auto& [name, c] : s["components"].items())
    o << "sdxl_memory_component_bytes{component=\"" << label(name) << "\",device=\""
      << label(c["device"].get<std::string>()) << "\"} " << c["bytes"].get<std::uint64_t>() << '\n';
  family("running_jobs", "gauge", "Jobs admitted and not yet released.");
  o << "sdxl_memory_running_jobs " << s["running_jobs"].get<std::uint64_t>() << '\n';
  const std::pair<const char*, const char*> counters[] = {
      {"evictions", "Components moved off a device to make room."},
      {"offloads", "Evictions that moved weights to the host."},
      {"drops", "Evictions that freed weights (re-read from the checkpoint later)."},
      {"idle_offloads", "Components moved to the host after a job (offload_idle mode)."},
      {"loads", "Components moved or re-read onto a device for a job."},
      {"reloads", "Loads that re-read dropped weights."},
      {"hits", "Components a job found already in place."},
      {"misses", "Components a job had to load."},
      {"callback_failures", "Component move/drop/reload callbacks that failed."}};
  for (const auto& [name, help] : counters) {
    family((std::string(name) + "_total").c_str(), "counter", help);
    o << "sdxl_memory_" << name << "_total " << s[name].get<std::uint64_t>() << '\n';
  }
  family("jobs_total", "counter", "Admission outcomes.");
  for (const auto& [outcome, n] : s["jobs"].items())
    o << "sdxl_memory_jobs_total{outcome=\"" << outcome << "\"} " << n.get<std::uint64_t>() << '\n';
  family("hit_ratio", "gauge", "hits / (hits + misses); 1 before any job.");
  o << "sdxl_memory_hit_ratio " << s["hit_rate"].get<double>() << '\n';
  return o.str();
}

}  // namespace sdxl::memory
