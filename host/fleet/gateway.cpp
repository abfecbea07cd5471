#include "fleet/gateway.h"

#include <nlohmann/json.hpp>

#include <random>
#include <thread>

#include "fleet/streams.h"
#include "fleet/worker_registry.h"

namespace sdxl::fleet {

std::string new_job_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (int half = 0; half < 2; ++half) {
    auto v = rng();
    for (int i = 0; i < 16; ++i, v >>= 4) id.push_back(hex[v & 15]);
  }
  return id;
}

sdk::Result<SubmitReceipt> submit_job(RedisConnection& c, const FleetKeys& keys, const std::string& job_json,
                                      std::int64_t result_ttl_s) {
  auto job = nlohmann::json::parse(job_json, nullptr, false);
  if (job.is_discarded() || !job.is_object()) return sdk::invalid_argument("job: expected a JSON object");
  SubmitReceipt receipt;
  if (auto it = job.find("id"); it != job.end()) {
    if (!it->is_string() || it->get<std::string>().empty() || it->get<std::string>().size() > 128)
      return sdk::invalid_argument("job field 'id': expected a non-empty string of at most 128 characters");
    receipt.id = it->get<std::string>();
    job.erase(it);
  } else {
    receipt.id = new_job_id();
  }
  receipt.stream = keys.shared_stream();
  if (auto m = job.find("model"); m != job.end() && m->is_string() && !m->get<std::string>().empty()) {
    const std::string model = m->get<std::string>();
    auto live = live_workers(c, keys);
    if (!live.ok()) return live.status();
    for (const auto& w : live.value())
      for (const auto& held : w.models)
        if (held == model) receipt.stream = keys.model_stream(model);
    if (receipt.stream != keys.shared_stream())
      if (auto r = c.command({"SADD", keys.model_streams_set(), receipt.stream}); !r.ok()) return r.status();
  }
  // The queued event first: a client subscribing right after submit sees the whole history.
  if (auto st = add_event(c, keys, receipt.id, "queued", {{"stream", receipt.stream}}, result_ttl_s); !st.ok())
    return st;
  auto entry = add_entry(c, receipt.stream, {{"id", receipt.id}, {"job", job.dump()}});
  if (!entry.ok()) return entry.status();
  receipt.entry_id = entry.value();
  return receipt;
}

sdk::Result<std::optional<StoredResult>> wait_result(RedisConnection& c, const FleetKeys& keys, const std::string& id,
                                                     std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto r = read_result(c, keys, id);
    if (!r.ok() && c.connected()) return r.status();
    if (r.ok() && r.value()) return r;
    if (std::chrono::steady_clock::now() >= end) return std::optional<StoredResult>{};
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // an outage is waited out too
  }
}

}  // namespace sdxl::fleet
