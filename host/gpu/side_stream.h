#pragma once
// Puts the current thread's CUDA work on a stream of its own for the scope's lifetime, so that it
// can run alongside what other threads queue on theirs: the server's overlapped decode runs the
// VAE while the worker thread runs the next job's UNet. The stream comes from libtorch's pool
// (non-blocking: no implicit synchronisation with the legacy default stream). Data crosses
// between the two threads only through host tensors, whose copies synchronise.
//
// Where this libtorch has no CUDA (the configure check SDXL_HAVE_CUDA_GRAPH), or for a CPU
// device, the scope does nothing.

#include <c10/core/Device.h>

#include <memory>

namespace sdxl::gpu {

class SideStreamScope {
 public:
  explicit SideStreamScope(c10::Device device);
  ~SideStreamScope();
  SideStreamScope(const SideStreamScope&) = delete;
  SideStreamScope& operator=(const SideStreamScope&) = delete;

  /// True when this thread's work now goes to a side stream.
  bool active() const { return state_ != nullptr; }

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sdxl::gpu
