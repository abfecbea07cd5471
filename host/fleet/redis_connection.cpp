#include "fleet/redis_connection.h"

#include <hiredis/hiredis.h>

#include <cctype>

namespace sdxl::fleet {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<long>(ms.count() / 1000);
  tv.tv_usec = static_cast<long>((ms.count() % 1000) * 1000);
  return tv;
}

RedisValue convert(const redisReply* r) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      v.type = RedisValue::Type::string;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      v.type = RedisValue::Type::error;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::integer;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::array;
      v.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) v.elements.push_back(convert(r->element[i]));
      break;
    default:
      v.type = RedisValue::Type::nil;
  }
  return v;
}

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

sdk::Result<RedisEndpoint> parse_redis_url(const std::string& url) {
  const std::string scheme = "redis://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    return sdk::invalid_argument("--redis '" + url + "': expected redis://HOST[:PORT][/DB]");
  RedisEndpoint e;
  std::string rest = url.substr(scheme.size());
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string auth = rest.substr(0, at);
    rest = rest.substr(at + 1);
    // redis://:password@host or redis://user:password@host (user ignored: Redis 6 ACL users not used).
    auto colon = auth.find(':');
    e.password = colon == std::string::npos ? auth : auth.substr(colon + 1);
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    const std::string db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty()) {
      if (!all_digits(db) || db.size() > 4) return sdk::invalid_argument("--redis '" + url + "': database must be a number");
      e.db = std::stoi(db);
    }
  }
  if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    const std::string port = rest.substr(colon + 1);
    if (!all_digits(port) || port.size() > 5 || std::stoi(port) < 1 || std::stoi(port) > 65535)
      return sdk::invalid_argument("--redis '" + url + "': port must be 1-65535");
    e.port = std::stoi(port);
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) e.host = rest;
  return e;
}

RedisConnection::RedisConnection(RedisEndpoint endpoint, std::chrono::milliseconds io_timeout)
    : endpoint_(std::move(endpoint)), io_timeout_(io_timeout) {}

RedisConnection::~RedisConnection() { disconnect(); }

void RedisConnection::disconnect() {
  if (context_) redisFree(context_);
  context_ = nullptr;
}

sdk::Status RedisConnection::ensure_connected() {
  if (context_) return {};
  // Connecting waits at most 2 s: a worker retries on its own schedule rather than hanging.
  redisContext* c = redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port,
                                            to_timeval(std::min(io_timeout_, std::chrono::milliseconds(2000))));
  if (!c) return sdk::internal_error("redis " + endpoint_.text() + ": cannot allocate a connection");
  if (c->err) {
    std::string why = c->errstr;
    redisFree(c);
    return sdk::internal_error("redis " + endpoint_.text() + ": " + why);
  }
  redisSetTimeout(c, to_timeval(io_timeout_));
  redisEnableKeepAlive(c);
  context_ = c;
  auto select = [&](std::vector<std::string> argv) -> sdk::Status {
    auto r = command(argv);
    return r.ok() ? sdk::Status{} : r.status();
  };
  if (!endpoint_.password.empty())
    if (auto st = select({"AUTH", endpoint_.password}); !st.ok()) return disconnect(), st;
  if (endpoint_.db != 0)
    if (auto st = select({"SELECT", std::to_string(endpoint_.db)}); !st.ok()) return disconnect(), st;
  return {};
}

sdk::Result<RedisValue> RedisConnection::command(const std::vector<std::string>& argv) {
  if (argv.empty()) return sdk::invalid_argument("redis: empty command");
  if (auto st = ensure_connected(); !st.ok()) return st;
  std::vector<const char*> ptrs;
  std::vector<std::size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(redisCommandArgv(context_, static_cast<int>(argv.size()), ptrs.data(), lens.data()));
  if (!reply) {
    // I/O error, EOF or timeout: the context cannot be reused (hiredis leaves it in error state).
    std::string why = context_->errstr[0] ? context_->errstr : "connection lost";
    disconnect();
    return sdk::internal_error("redis " + endpoint_.text() + " " + argv[0] + ": " + why);
  }
  RedisValue v = convert(reply);
  freeReplyObject(reply);
  if (v.is_error()) return sdk::internal_error("redis " + argv[0] + ": " + v.str);
  return v;
}

bool is_reply_error(const sdk::Status& status, const std::string& prefix) {
  const auto colon = status.message().find(": ");
  return !status.ok() && colon != std::string::npos && status.message().compare(colon + 2, prefix.size(), prefix) == 0;
}

}  // namespace sdxl::fleet
