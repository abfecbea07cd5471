#include "fleet/streams.h"

namespace sdxl::fleet {
namespace {

// [id, [f1, v1, f2, v2…]] → StreamEntry; false when the shape is not an entry (deleted: nil fields).
bool parse_entry(const RedisValue& v, const std::string& stream, StreamEntry& out) {
  if (!v.is_array() || v.elements.size() != 2 || v.elements[0].type != RedisValue::Type::string) return false;
  out.stream = stream;
  out.id = v.elements[0].str;
  out.fields.clear();
  const auto& kv = v.elements[1];
  if (!kv.is_array()) return false;
  for (std::size_t i = 0; i + 1 < kv.elements.size(); i += 2) out.fields.emplace_back(kv.elements[i].str, kv.elements[i + 1].str);
  return true;
}

std::vector<StreamEntry> parse_entries(const RedisValue& list, const std::string& stream) {
  std::vector<StreamEntry> out;
  if (!list.is_array()) return out;
  for (const auto& e : list.elements) {
    StreamEntry entry;
    if (parse_entry(e, stream, entry)) out.push_back(std::move(entry));
  }
  return out;
}

sdk::Status status_of(const sdk::Result<RedisValue>& r) { return r.ok() ? sdk::Status{} : r.status(); }

}  // namespace

std::string StreamEntry::field(const std::string& name) const {
  for (const auto& [k, v] : fields)
    if (k == name) return v;
  return {};
}

sdk::Status ensure_group(RedisConnection& c, const std::string& stream, const std::string& group) {
  auto r = c.command({"XGROUP", "CREATE", stream, group, "0", "MKSTREAM"});
  if (!r.ok() && is_reply_error(r.status(), "BUSYGROUP")) return {};
  return status_of(r);
}

sdk::Result<std::string> add_entry(RedisConnection& c, const std::string& stream, const Fields& fields,
                                   std::int64_t max_len) {
  std::vector<std::string> argv{"XADD", stream};
  if (max_len > 0) {
    argv.insert(argv.end(), {"MAXLEN", "~", std::to_string(max_len)});
  }
  argv.push_back("*");
  for (const auto& [k, v] : fields) {
    argv.push_back(k);
    argv.push_back(v);
  }
  auto r = c.command(argv);
  if (!r.ok()) return r.status();
  return r.value().str;
}

sdk::Result<std::vector<StreamEntry>> read_group(RedisConnection& c, const std::string& group,
                                                 const std::string& consumer,
                                                 const std::vector<std::string>& streams, int count,
                                                 int block_ms) {
  std::vector<std::string> argv{"XREADGROUP", "GROUP", group, consumer, "COUNT", std::to_string(count)};
  if (block_ms >= 0) argv.insert(argv.end(), {"BLOCK", std::to_string(block_ms)});
  argv.push_back("STREAMS");
  argv.insert(argv.end(), streams.begin(), streams.end());
  for (std::size_t i = 0; i < streams.size(); ++i) argv.push_back(">");
  auto r = c.command(argv);
  if (!r.ok()) return r.status();
  std::vector<StreamEntry> out;
  if (!r.value().is_array()) return out;  // nil: timed out
  // Reply: [[stream, [entries…]], …]; keep the order of `streams` (the caller's priority).
  for (const auto& wanted : streams)
    for (const auto& per_stream : r.value().elements)
      if (per_stream.is_array() && per_stream.elements.size() == 2 && per_stream.elements[0].str == wanted)
        for (auto& e : parse_entries(per_stream.elements[1], wanted)) out.push_back(std::move(e));
  return out;
}

sdk::Result<std::vector<StreamEntry>> auto_claim(RedisConnection& c, const std::string& stream,
                                                 const std::string& group, const std::string& consumer,
                                                 std::int64_t min_idle_ms, int count) {
  auto r = c.command({"XAUTOCLAIM", stream, group, consumer, std::to_string(min_idle_ms), "0-0", "COUNT",
                      std::to_string(count)});
  if (!r.ok()) return r.status();
  // Reply: [next cursor, [claimed entries…], [ids deleted meanwhile]] (Redis ≥ 7).
  if (!r.value().is_array() || r.value().elements.size() < 2) return std::vector<StreamEntry>{};
  return parse_entries(r.value().elements[1], stream);
}

sdk::Status touch_pending(RedisConnection& c, const std::string& stream, const std::string& group,
                          const std::string& consumer, const std::string& id) {
  return status_of(c.command({"XCLAIM", stream, group, consumer, "0", id, "JUSTID"}));
}

sdk::Result<PendingInfo> pending_info(RedisConnection& c, const std::string& stream, const std::string& group,
                                      const std::string& id) {
  auto r = c.command({"XPENDING", stream, group, id, id, "1"});
  if (!r.ok()) return r.status();
  PendingInfo info;
  // Reply: [[id, consumer, idle ms, deliveries]] or [] when not pending.
  if (r.value().is_array() && !r.value().elements.empty()) {
    const auto& row = r.value().elements[0];
    if (row.is_array() && row.elements.size() == 4) {
      info.consumer = row.elements[1].str;
      info.idle_ms = row.elements[2].integer;
      info.deliveries = row.elements[3].integer;
    }
  }
  return info;
}

sdk::Status ack(RedisConnection& c, const std::string& stream, const std::string& group, const std::string& id) {
  return status_of(c.command({"XACK", stream, group, id}));
}

sdk::Result<std::int64_t> pending_count(RedisConnection& c, const std::string& stream, const std::string& group) {
  auto r = c.command({"XPENDING", stream, group});
  if (!r.ok()) return r.status();
  if (!r.value().is_array() || r.value().elements.empty()) return std::int64_t{0};
  return static_cast<std::int64_t>(r.value().elements[0].integer);
}

sdk::Result<std::vector<StreamEntry>> range_all(RedisConnection& c, const std::string& stream) {
  auto r = c.command({"XRANGE", stream, "-", "+"});
  if (!r.ok()) return r.status();
  return parse_entries(r.value(), stream);
}

}  // namespace sdxl::fleet
