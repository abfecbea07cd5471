#include "util/crash_report.h"

#include <catch2/catch.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

namespace {

struct ChildDeath {
  int signal = 0;        // the signal that ended the child, 0 if it exited
  std::string stderr_text;
};

// Deep enough to overflow any stack: each frame keeps a buffer the compiler cannot drop.
int recurse_forever(int depth) {
  volatile char frame[1024];
  frame[depth % 1024] = static_cast<char>(depth);
  return recurse_forever(depth + 1) + frame[(depth * 7) % 1024];
}

// Forks a child whose stderr is a pipe, installs the report there and runs `crash`.
ChildDeath die_in_child(const std::function<void()>& crash) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    sdxl::util::install_crash_report();
    crash();
    ::_exit(0);  // only if the crash did not end the process
  }
  ::close(fds[1]);
  ChildDeath death;
  char chunk[4096];
  for (ssize_t n; (n = ::read(fds[0], chunk, sizeof chunk)) > 0;) death.stderr_text.append(chunk, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  if (WIFSIGNALED(status)) death.signal = WTERMSIG(status);
  return death;
}

}  // namespace

TEST_CASE("a crash reports its signal and call stack, then dies of the same signal", "[util]") {
  for (int signal_number : {SIGSEGV, SIGABRT}) {
    const ChildDeath death = die_in_child([&] { ::raise(signal_number); });
    INFO(death.stderr_text);
    CHECK(death.signal == signal_number);  // the default action still happens: exit status 128+N
    CHECK(death.stderr_text.find(std::string("sdxl: fatal signal ") + ::sigdescr_np(signal_number)) != std::string::npos);
    // Frames follow the heading: backtrace_symbols_fd writes one line per frame with its address.
    const auto stack = death.stderr_text.find("call stack");
    REQUIRE(stack != std::string::npos);
    CHECK(death.stderr_text.find("[0x", stack) != std::string::npos);
  }
}

TEST_CASE("a stack overflow is reported too (the handler has its own stack)", "[util]") {
  const ChildDeath death = die_in_child([] { (void)recurse_forever(0); });
  INFO(death.stderr_text);
  CHECK(death.signal == SIGSEGV);
  CHECK(death.stderr_text.find(std::string("sdxl: fatal signal ") + ::sigdescr_np(SIGSEGV)) != std::string::npos);
}
