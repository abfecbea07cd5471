#pragma once
// The memory arbiter: decides, before a job starts, whether its peak fits each device's budget,
// and makes room when it does not — by moving the least recently used idle components to the
// host (GPU → CPU) or dropping them (CPU → gone, re-read from the memory-mapped checkpoint when
// needed again) — or reshapes the job (tiled VAE, smaller batch), or refuses it with a reason.
//
// The arbiter owns no tensors. Components (UNet, text encoders, VAE, ControlNets, ...) register
// with callbacks and move themselves; the arbiter keeps the books in a memory::Ledger (component
// weights as resident entries, each admitted job's scratch as one lease) and the ledger enforces
// nothing more than its budgets. docs/memory.md explains the policy and the activation formula.
//
// Typical use (the orchestrator):
//   auto ticket = arbiter.admit(footprint);            // error: can never fit (reason inside)
//   if (!ticket.ok()) fail the job with ticket.status();
//   if (!ticket.value().ok) requeue: other running jobs hold the memory right now;
//   run with ticket.value().tiled_vae / max_batch; then arbiter.release(ticket.value().job);
//
// Thread rules: every member is thread-safe (one mutex). Callbacks run with that mutex held, one
// at a time: they must not call back into the arbiter (they may use the ledger or allocate).
// Ownership: a component's callbacks must stay callable until it is unregistered.

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "memory/activation_estimate.h"
#include "memory/ledger.h"
#include "sdxl/sdk/status.h"

namespace sdxl::memory {

/// How components are kept between jobs.
enum class ArbiterMode {
  resident,      ///< keep everything where it is; evict only under pressure (default)
  offload_idle,  ///< after each job, move components no running job needs to the host (GPU → CPU)
  sequential,    ///< "layer-by-layer": weights live on the host, the compute device holds one block
                 ///< at a time (on CPU an accounting mode only; see docs/memory.md)
};
const char* to_string(ArbiterMode mode);
/// "resident", "offload_idle" (or "offload-idle"), "sequential"; errors name the text.
sdk::Result<ArbiterMode> parse_arbiter_mode(const std::string& text);

/// How a component moves itself. Each returns ok only when the move really happened; on error
/// the arbiter keeps the component where it was and reports the message.
struct ComponentCallbacks {
  /// Move the weights to `device` (used both ways: GPU → CPU to evict, CPU → GPU to bring back).
  std::function<sdk::Status(c10::Device device)> offload_to;
  /// Free the weights entirely (they can be re-read from the checkpoint later).
  std::function<sdk::Status()> drop;
  /// Re-read the weights (after drop) onto `device`.
  std::function<sdk::Status(c10::Device device)> reload;
};

struct ComponentRegistration {
  std::string name;      ///< unique, e.g. "sdxl_base.unet"; also the ledger tag
  c10::Device device = c10::Device(c10::kCPU);  ///< where the weights are now
  std::uint64_t bytes = 0;
  bool pinned = false;   ///< permanently pinned: never evicted (jobs pin temporarily on top)
  /// Largest block streamed at once in sequential mode (0 = the whole component).
  std::uint64_t largest_block_bytes = 0;
  ComponentCallbacks callbacks;
};

/// What a job needs at its peak. Sizes come from the pipeline: activation_bytes from
/// estimate_sdxl_activation_bytes (or the plugin's own estimate), the VAE figures from
/// VaeVariant::estimate_decode_bytes for untiled and tiled decoding.
struct JobFootprint {
  std::string label;                         ///< for logs ("job 17 txt2img 1024x1024 x2")
  std::vector<std::string> components;       ///< registered names the job runs
  c10::Device device = c10::Device(c10::kCPU);
  std::int64_t batch = 1;                    ///< images denoised together
  std::uint64_t activation_bytes = 0;        ///< denoising peak scratch for the whole batch
  std::uint64_t vae_decode_bytes = 0;        ///< untiled decode peak scratch
  std::uint64_t vae_decode_tiled_bytes = 0;  ///< tiled decode peak (0 = the VAE cannot tile)
  /// When waiting for running jobs to finish: how long at most (0 = answer at once).
  std::chrono::milliseconds wait{0};
};

using JobId = std::uint64_t;

struct AdmissionDecision {
  bool ok = false;              ///< admitted; false = busy now (running jobs hold the room), retry
  JobId job = 0;                ///< pass to release(); 0 when not admitted
  std::vector<std::string> evicted;  ///< "name: cuda:0 -> cpu" / "name: cpu -> dropped"
  std::vector<std::string> loaded;   ///< components brought onto the device for this job
  bool tiled_vae = false;       ///< reshape: decode with tiles
  std::int64_t max_batch = 0;   ///< reshape: denoise at most this many images at once (0 = all)
  std::uint64_t scratch_bytes = 0;  ///< the lease taken for the job's scratch
  std::string reason;           ///< what was decided and why (also logged)
};

class MemoryArbiter {
 public:
  explicit MemoryArbiter(Ledger& ledger = process_ledger(), ArbiterMode mode = ArbiterMode::resident);
  ~MemoryArbiter();
  MemoryArbiter(const MemoryArbiter&) = delete;
  MemoryArbiter& operator=(const MemoryArbiter&) = delete;

  void set_mode(ArbiterMode mode);
  ArbiterMode mode() const;
  /// Forwards to the ledger (0 = unlimited). Budgets from TOML are applied by app::start.
  void set_budget(c10::Device device, std::uint64_t bytes);

  /// Adds a component (recorded in the ledger). A name registered again replaces the old one.
  sdk::Status register_component(ComponentRegistration registration);
  /// Removes it from the books (does not call drop). Refused while a job has it pinned.
  sdk::Status unregister_component(const std::string& name);
  void set_pinned(const std::string& name, bool pinned);

  /// Admission control; see the file comment. An error (out_of_memory, not_found) means the job
  /// can never fit or names an unknown component; the reason is logged.
  sdk::Result<AdmissionDecision> admit(const JobFootprint& footprint);
  /// Unpins the job's components and returns its scratch. Releasing twice (or an unknown id) is
  /// harmless and counted in the statistics.
  void release(JobId job);

  /// Where a component's weights are now (nullopt: dropped or unknown).
  std::optional<c10::Device> location(const std::string& name) const;
  std::size_t running_jobs() const;

  /// Statistics: bytes per component and device, peaks, evictions, loads, hits, hit rate.
  nlohmann::json stats_json() const;
  /// The same as Prometheus text exposition lines (# HELP / # TYPE, metric prefix sdxl_memory_).
  std::string prometheus_text() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

/// The process-wide arbiter (on process_ledger()).
MemoryArbiter& process_arbiter();

}  // namespace sdxl::memory
