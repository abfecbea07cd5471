#include "fleet_test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

namespace sdxl::fleet::testing {

ChildProcess ChildProcess::spawn(const std::vector<std::string>& argv, const std::filesystem::path& log_file,
                                 const std::vector<std::string>& extra_env) {
  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls (no malloc — other threads of the test may hold its lock).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings(extra_env);  // first, so they win over inherited ones
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string log = log_file.string();
  ChildProcess p;
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  p.pid_ = pid;
  return p;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    kill_now();
    pid_ = o.pid_;
    o.pid_ = -1;
  }
  return *this;
}

void ChildProcess::kill_now(int signal) {
  if (pid_ <= 0) return;
  ::kill(pid_, signal);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int ChildProcess::stop(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  const auto end = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill_now();
  return -1;
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ready();
}

TestRedis::TestRedis() {
  char tmpl[] = "/tmp/sdxl-fleet-redis-XXXXXX";
  if (!mkdtemp(tmpl)) return;
  dir_ = tmpl;
  port_ = free_port();
  start();
}

TestRedis::~TestRedis() {
  server_.kill_now();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

RedisEndpoint TestRedis::endpoint() const {
  RedisEndpoint e;
  e.port = port_;
  return e;
}

bool TestRedis::start() {
  if (port_ == 0 || dir_.empty()) return false;
  server_ = ChildProcess::spawn({"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", dir_.string(), "--daemonize", "no"},
                                dir_ / "redis.log");
  RedisConnection c(endpoint(), std::chrono::milliseconds(500));
  const bool up = wait_until([&] { return c.command({"PING"}).ok(); }, std::chrono::seconds(5));
  if (!up) server_.kill_now();
  return up;
}

bool TestRedis::restart_keeping_data() {
  {
    RedisConnection c(endpoint(), std::chrono::milliseconds(2000));
    c.command({"SHUTDOWN", "SAVE"});  // no reply: the server exits
  }
  server_.stop(SIGTERM, std::chrono::seconds(5));
  return start();
}

bool TestRedis::restart_empty() {
  server_.kill_now();
  std::error_code ec;
  std::filesystem::remove(dir_ / "dump.rdb", ec);
  return start();
}

}  // namespace sdxl::fleet::testing
