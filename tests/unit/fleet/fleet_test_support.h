#pragma once
// Test support for the fleet: a real redis-server on a free loopback port in a temporary folder
// (no persistence unless asked), and child processes that are always killed — by the destructor
// on any test failure, and by the kernel (PR_SET_PDEATHSIG) should the test process itself die.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "fleet/redis_connection.h"

namespace sdxl::fleet::testing {

/// A spawned program; SIGKILLed and reaped when destroyed.
class ChildProcess {
 public:
  ChildProcess() = default;
  /// argv[0] is searched in PATH. stdout and stderr go to `log_file`.
  static ChildProcess spawn(const std::vector<std::string>& argv, const std::filesystem::path& log_file,
                            const std::vector<std::string>& extra_env = {});
  ChildProcess(ChildProcess&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ~ChildProcess() { kill_now(); }

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  void kill_now(int signal = 9);
  /// Sends `signal` and waits up to `timeout` for the exit; returns the exit code (or -1).
  int stop(int signal, std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
};

/// A loopback port nobody listens on right now.
int free_port();

/// Polls `ready` every 20 ms until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout);

class TestRedis {
 public:
  TestRedis();  ///< starts the server (check ok() — false when redis-server is not installed)
  ~TestRedis();
  bool ok() const { return server_.running(); }
  RedisEndpoint endpoint() const;
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  /// SHUTDOWN SAVE (data kept in dump.rdb) then a new server on the same port and folder.
  bool restart_keeping_data();
  /// SIGKILL, then a fresh empty server on the same port (everything lost, groups included).
  bool restart_empty();
  const std::filesystem::path& dir() const { return dir_; }

 private:
  bool start();
  int port_ = 0;
  std::filesystem::path dir_;
  ChildProcess server_;
};

}  // namespace sdxl::fleet::testing
