#include "fleet/job_store.h"

#include <chrono>
#include <cstdint>

namespace sdxl::fleet {
namespace {

// KEYS: result hash, events stream. ARGV: ttl seconds, event type, event data, then field/value
// pairs of the result. Atomic in Redis: the result and its final event appear together or not at all.
const char* kStoreOnce = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '1000', '*', 'type', ARGV[2], 'data', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
)lua";

// Digits → number; anything else (a hand-edited key) → `fallback` instead of an exception.
std::size_t to_count(const std::string& s, std::size_t fallback) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return fallback;
  return static_cast<std::size_t>(std::stoul(s));
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

sdk::Result<bool> store_once(RedisConnection& c, const FleetKeys& keys, const std::string& id,
                             const std::string& event_type, const nlohmann::json& event, const Fields& fields,
                             std::int64_t ttl_s) {
  std::vector<std::string> argv{"EVAL", kStoreOnce, "2", keys.result(id), keys.events(id), std::to_string(ttl_s),
                                event_type, event.dump()};
  for (const auto& [k, v] : fields) {
    argv.push_back(k);
    argv.push_back(v);
  }
  auto r = c.command(argv);
  if (!r.ok()) return r.status();
  return r.value().integer == 1;
}

}  // namespace

sdk::Result<bool> store_result(RedisConnection& c, const FleetKeys& keys, const std::string& id,
                               const std::string& worker, const JobOutput& out, std::int64_t ttl_s) {
  Fields fields{{"status", "done"},
                {"worker", worker},
                {"finished_ms", std::to_string(now_ms())},
                {"metadata", out.metadata.dump()},
                {"images", std::to_string(out.images_png.size())}};
  for (std::size_t i = 0; i < out.images_png.size(); ++i) fields.emplace_back("image:" + std::to_string(i), out.images_png[i]);
  nlohmann::json event{{"worker", worker}, {"images", out.images_png.size()}};
  return store_once(c, keys, id, "done", event, fields, ttl_s);
}

sdk::Result<bool> store_failure(RedisConnection& c, const FleetKeys& keys, const std::string& id,
                                const std::string& worker, const std::string& error, std::int64_t ttl_s) {
  Fields fields{{"status", "failed"}, {"worker", worker}, {"finished_ms", std::to_string(now_ms())},
                {"error", error},     {"metadata", "{}"}, {"images", "0"}};
  nlohmann::json event{{"worker", worker}, {"error", error}};
  return store_once(c, keys, id, "failed", event, fields, ttl_s);
}

sdk::Result<bool> result_exists(RedisConnection& c, const FleetKeys& keys, const std::string& id) {
  auto r = c.command({"EXISTS", keys.result(id)});
  if (!r.ok()) return r.status();
  return r.value().integer == 1;
}

sdk::Result<std::optional<StoredResult>> read_result(RedisConnection& c, const FleetKeys& keys, const std::string& id) {
  auto r = c.command({"HGETALL", keys.result(id)});
  if (!r.ok()) return r.status();
  const auto& kv = r.value().elements;
  if (kv.empty()) return std::optional<StoredResult>{};
  StoredResult out;
  std::size_t images = 0;
  std::vector<std::pair<std::size_t, std::string>> pictures;
  for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
    const auto& k = kv[i].str;
    const auto& v = kv[i + 1].str;
    if (k == "status") out.status = v;
    else if (k == "error") out.error = v;
    else if (k == "worker") out.worker = v;
    else if (k == "metadata") out.metadata = nlohmann::json::parse(v, nullptr, false);
    else if (k == "images") images = to_count(v, 0);
    else if (k.rfind("image:", 0) == 0) pictures.emplace_back(to_count(k.substr(6), SIZE_MAX), v);
  }
  out.images_png.resize(images);
  for (auto& [n, png] : pictures)
    if (n < images) out.images_png[n] = std::move(png);
  if (out.metadata.is_discarded()) out.metadata = nlohmann::json::object();
  return std::optional<StoredResult>(std::move(out));
}

sdk::Status add_event(RedisConnection& c, const FleetKeys& keys, const std::string& id, const std::string& type,
                      const nlohmann::json& data, std::int64_t ttl_s) {
  auto r = add_entry(c, keys.events(id), {{"type", type}, {"data", data.dump()}}, 1000);
  if (!r.ok()) return r.status();
  auto e = c.command({"EXPIRE", keys.events(id), std::to_string(ttl_s)});
  return e.ok() ? sdk::Status{} : e.status();
}

sdk::Status remember_error(RedisConnection& c, const FleetKeys& keys, const std::string& id,
                           const std::string& error, std::int64_t ttl_s) {
  auto r = c.command({"SET", keys.last_error(id), error, "EX", std::to_string(ttl_s)});
  return r.ok() ? sdk::Status{} : r.status();
}

sdk::Result<std::string> last_error(RedisConnection& c, const FleetKeys& keys, const std::string& id) {
  auto r = c.command({"GET", keys.last_error(id)});
  if (!r.ok()) return r.status();
  return r.value().str;
}

sdk::Status add_dead_letter(RedisConnection& c, const FleetKeys& keys, const DeadLetter& d) {
  auto r = add_entry(c, keys.dead_letter(),
                     {{"id", d.job_id},
                      {"stream", d.stream},
                      {"entry", d.entry_id},
                      {"job", d.job_json},
                      {"error", d.error},
                      {"worker", d.worker},
                      {"deliveries", std::to_string(d.deliveries)}});
  return r.ok() ? sdk::Status{} : r.status();
}

sdk::Result<std::vector<DeadLetter>> read_dead_letters(RedisConnection& c, const FleetKeys& keys) {
  auto entries = range_all(c, keys.dead_letter());
  if (!entries.ok()) return entries.status();
  std::vector<DeadLetter> out;
  for (const auto& e : entries.value()) {
    DeadLetter d{e.field("id"), e.field("stream"), e.field("entry"), e.field("job"), e.field("error"), e.field("worker"), 0};
    d.deliveries = static_cast<std::int64_t>(to_count(e.field("deliveries"), 0));
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace sdxl::fleet
