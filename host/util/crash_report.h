#pragma once
// A last word from a process that dies of a signal (a segmentation fault, an abort): which signal,
// and the call stack, written to stderr before the default action (core dump, exit status 128+N)
// goes ahead. Without it a crash in a piped run leaves nothing at all: the buffered standard
// output is lost with the process (what `sdxl golden check` on the GPU machine did on 2026-11-27).

namespace sdxl::util {

/// Installs the report for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT. Once per process, early
/// in main(). The frames name the executable and an offset; `addr2line -C -f -e EXE OFFSET` turns
/// one into a function (scripts/gpu-build-and-bench.sh does so for its checks).
void install_crash_report();

}  // namespace sdxl::util
