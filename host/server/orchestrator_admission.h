#pragma once
// The orchestrator's memory admission through the arbiter (host/memory/arbiter.h): each job or
// batch asks for its peak scratch — the UNet activation estimate for its rows and size (CFG
// doubling included) and the VAE decode estimate — before it runs, and returns it afterwards.
// The model's weights are already in the ledger as resident entries, so no components are named.
// Use: `options.admit = server::arbiter_admission(memory::process_arbiter());`
//
// Not yet used: the arbiter's reshaping advice (max_batch, tiled_vae); the pipeline already picks
// a tiled VAE decode by itself when memory is short (pipeline/vae_choice.h).

#include "memory/arbiter.h"
#include "server/orchestrator.h"

namespace sdxl::server {

/// The arbiter must outlive the orchestrator.
std::function<sdk::Result<Admission>(const AdmissionRequest&)> arbiter_admission(memory::MemoryArbiter& arbiter);

}  // namespace sdxl::server
