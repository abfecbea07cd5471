#include "fleet/worker_registry.h"

#include <nlohmann/json.hpp>

#include <chrono>

namespace sdxl::fleet {
namespace {

std::vector<std::string> string_list(const std::string& json_text) {
  auto j = nlohmann::json::parse(json_text, nullptr, false);
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& e : j)
    if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

std::int64_t number(const std::string& s) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoll(s);
}

}  // namespace

sdk::Status advertise(RedisConnection& c, const FleetKeys& keys, const WorkerAdvert& a, std::int64_t ttl_ms) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string key = keys.worker(a.name);
  auto r = c.command({"HSET", key, "models", nlohmann::json(a.models).dump(), "loras", nlohmann::json(a.loras).dump(),
                      "streams", nlohmann::json(a.streams).dump(), "current_job", a.current_job, "jobs_done",
                      std::to_string(a.jobs_done), "pid", std::to_string(a.pid), "updated_ms", std::to_string(now)});
  if (!r.ok()) return r.status();
  if (auto e = c.command({"PEXPIRE", key, std::to_string(ttl_ms)}); !e.ok()) return e.status();
  auto s = c.command({"SADD", keys.workers_set(), a.name});
  return s.ok() ? sdk::Status{} : s.status();
}

sdk::Status withdraw(RedisConnection& c, const FleetKeys& keys, const std::string& name) {
  if (auto r = c.command({"DEL", keys.worker(name)}); !r.ok()) return r.status();
  auto s = c.command({"SREM", keys.workers_set(), name});
  return s.ok() ? sdk::Status{} : s.status();
}

sdk::Result<std::vector<WorkerAdvert>> live_workers(RedisConnection& c, const FleetKeys& keys) {
  auto names = c.command({"SMEMBERS", keys.workers_set()});
  if (!names.ok()) return names.status();
  std::vector<WorkerAdvert> out;
  for (const auto& n : names.value().elements) {
    auto h = c.command({"HGETALL", keys.worker(n.str)});
    if (!h.ok()) return h.status();
    if (h.value().elements.empty()) {  // expired: the worker stopped heartbeating
      c.command({"SREM", keys.workers_set(), n.str});
      continue;
    }
    WorkerAdvert a;
    a.name = n.str;
    const auto& kv = h.value().elements;
    for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
      const auto& k = kv[i].str;
      const auto& v = kv[i + 1].str;
      if (k == "models") a.models = string_list(v);
      else if (k == "loras") a.loras = string_list(v);
      else if (k == "streams") a.streams = string_list(v);
      else if (k == "current_job") a.current_job = v;
      else if (k == "jobs_done") a.jobs_done = number(v);
      else if (k == "pid") a.pid = number(v);
      else if (k == "updated_ms") a.updated_ms = number(v);
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace sdxl::fleet
