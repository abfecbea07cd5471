#pragma once
// The running job's own scratch, credited back to it.
//
// Why: the arbiter reserves a job's peak scratch (max of UNet activations and VAE decode) as one
// ledger lease at admission. Code inside the job that asks the ledger what is left — the
// pipeline's VAE decode choice (pipeline/vae_choice.cpp) — would otherwise see its own
// reservation as taken and tile or refuse needlessly. The thread running an admitted job holds a
// ScratchCredit for the admission's scratch; scratch_credit() adds it back.
//
// Thread rules: thread-local; a credit applies to the thread that created it, for its lifetime.

#include <c10/core/Device.h>

#include <cstdint>

namespace sdxl::memory {

class ScratchCredit {
 public:
  ScratchCredit(c10::Device device, std::uint64_t bytes);
  ~ScratchCredit();
  ScratchCredit(const ScratchCredit&) = delete;
  ScratchCredit& operator=(const ScratchCredit&) = delete;

 private:
  c10::Device device_;
  std::uint64_t bytes_;
};

/// Bytes credited to the current thread on `device` (0 outside an admitted job).
std::uint64_t scratch_credit(c10::Device device);

/// `available` plus this thread's credit, saturating (available may be "unlimited").
std::uint64_t with_scratch_credit(std::uint64_t available, c10::Device device);

}  // namespace sdxl::memory
