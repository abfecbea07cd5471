#include "util/crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

namespace sdxl::util {
namespace {

void write_text(const char* text) {
  // write(2) only: the handler may run with the heap or stdio in any state.
  ssize_t ignored = ::write(STDERR_FILENO, text, ::strlen(text));
  (void)ignored;
}

void report_and_die(int signal_number) {
  write_text("\nsdxl: fatal signal ");
  const char* name = ::sigdescr_np(signal_number);
  write_text(name ? name : "?");
  write_text("; call stack (innermost first):\n");
  void* frames[64];
  const int depth = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, depth, STDERR_FILENO);
  // SA_RESETHAND restored the default action: re-raising gives the usual core dump / exit status.
  ::raise(signal_number);
}

}  // namespace

void install_crash_report() {
  // backtrace() loads libgcc on its first call, which may allocate: do it now, not in the handler.
  void* warm_up[1];
  (void)::backtrace(warm_up, 1);
  // Its own stack for the handler (this thread): a stack overflow leaves none to run it on.
  static char alternate_stack[1 << 16];
  stack_t stack{};
  stack.ss_sp = alternate_stack;
  stack.ss_size = sizeof alternate_stack;
  ::sigaltstack(&stack, nullptr);
  struct sigaction action {};
  action.sa_handler = report_and_die;
  action.sa_flags = SA_RESETHAND | SA_ONSTACK;
  ::sigemptyset(&action.sa_mask);
  for (int signal_number : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::sigaction(signal_number, &action, nullptr);
}

}  // namespace sdxl::util
