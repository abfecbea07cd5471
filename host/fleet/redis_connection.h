#pragma once
// One synchronous connection to Redis (hiredis), owned RAII-style. A command that finds the
// connection broken (server restarted, network blip) drops the context; the next command
// reconnects, so callers see one failed command per outage and simply retry. Replies are copied
// into RedisValue trees at once: no hiredis pointer escapes this class.
//
// Thread rules: one connection per thread (hiredis contexts are not thread-safe).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "sdxl/sdk/status.h"

struct redisContext;

namespace sdxl::fleet {

/// Where Redis listens: parsed from redis://[:password@]host[:port][/db].
struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;
  std::string text() const { return host + ":" + std::to_string(port); }
};

sdk::Result<RedisEndpoint> parse_redis_url(const std::string& url);

/// A reply: nil, string (bulk or status), integer, array or error (message in `str`).
struct RedisValue {
  enum class Type { nil, string, integer, array, error };
  Type type = Type::nil;
  std::string str;
  long long integer = 0;
  std::vector<RedisValue> elements;

  bool is_nil() const { return type == Type::nil; }
  bool is_error() const { return type == Type::error; }
  bool is_array() const { return type == Type::array; }
};

class RedisConnection {
 public:
  /// `io_timeout` bounds every command's socket wait: keep it above any BLOCK time used.
  RedisConnection(RedisEndpoint endpoint, std::chrono::milliseconds io_timeout = std::chrono::seconds(10));
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  /// Sends one command (binary-safe arguments). Not ok when the connection failed (check
  /// connected() afterwards: false means an outage, retry later) or when Redis answered with an
  /// error reply (message "redis CMD: ERR …"; the connection stays usable).
  sdk::Result<RedisValue> command(const std::vector<std::string>& argv);

  /// Connects now if not connected (commands do this themselves).
  sdk::Status ensure_connected();
  bool connected() const { return context_ != nullptr; }
  /// Closes the socket; the next command reconnects.
  void disconnect();
  const RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  RedisEndpoint endpoint_;
  std::chrono::milliseconds io_timeout_;
  redisContext* context_ = nullptr;
};

/// True for a failed command whose error reply starts with `prefix` (e.g. "NOGROUP").
bool is_reply_error(const sdk::Status& status, const std::string& prefix);

}  // namespace sdxl::fleet
