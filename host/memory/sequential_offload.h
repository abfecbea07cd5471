#pragma once
// Sequential ("layer-by-layer") weight streaming for [memory] mode = "sequential": the weights live
// on the host and each block's weights visit the compute device only while that block runs.
//
// How: SequentialStreamer observes the UNet's top-level stages (models::UNetBlockObserver). In
// before(block) it copies that block's tensors to physical_device(compute) and re-seats the
// model's own handles there (Tensor::set_, as ParameterResidency does: every layer shares the
// TensorImpl with UNet2DConditionModel::parameters()). In after(block) it re-seats them back onto
// the host storage they had before — no copy back, the weights are read-only while streaming — and
// the device copy is freed with its last reference. So at the end of every forward, and after one
// that failed, every handle is on its host storage again.
//
// The arbiter reserves one streaming window per job (ComponentRegistration::largest_block_bytes,
// reported by largest_block_bytes()); stats() says what really happened.
//
// Simulated devices: without CUDA a "cuda:N" target is a fresh CPU copy (physical_device), so the
// whole path — copy, re-seat, compute, re-seat back — runs in CPU tests.
//
// Thread rules: thread-safe. Forwards may run at once: a block entered by several forwards is
// copied by the first and re-seated back by the last (a count per block), so concurrent forwards
// in different blocks hold one copy each. Ownership: holds handles to the model's tensors, not
// the model; the host storage is snapshotted at each before(), so the arbiter may move, drop and
// reload the weights between forwards (never during one: a running job pins its components).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "models/unet/unet_model.h"
#include "sdxl/sdk/status.h"

namespace sdxl::memory {

struct SequentialStreamStats {
  std::uint64_t blocks_streamed = 0;   ///< before() calls that copied a block to the device
  std::uint64_t bytes_copied = 0;      ///< host → device bytes in total
  std::uint64_t device_bytes_now = 0;  ///< weight bytes on the device at this moment
  std::uint64_t peak_device_bytes = 0; ///< most weight bytes on the device at once
  std::uint64_t failures = 0;          ///< before() calls whose copy failed
};

class SequentialStreamer : public models::UNetBlockObserver {
 public:
  /// Names a parameter's block ("" = belongs to none: an error at construction).
  using BlockOf = std::function<std::string(const std::string& parameter)>;

  /// `params`: the model's own handles; `compute`: where blocks run (logical, e.g. "cuda:0").
  /// Errors: a parameter no block claims (it would never reach the device).
  static sdk::Result<std::shared_ptr<SequentialStreamer>> create(std::map<std::string, at::Tensor> params,
                                                                 const BlockOf& block_of, c10::Device compute);
  /// The UNet's streamer (blocks as in UNet2DConditionModel::block_of). Does not attach it.
  static sdk::Result<std::shared_ptr<SequentialStreamer>> for_unet(const models::UNet2DConditionModel& unet,
                                                                   c10::Device compute);

  /// Copies `block`'s tensors to the device and re-seats them (nothing when already there). Throws
  /// on failure, leaving every handle where it was. Unknown blocks stream nothing.
  void before(const std::string& block) override;
  /// Re-seats `block`'s tensors on their host storage (when this is the block's last user).
  void after(const std::string& block) noexcept override;

  c10::Device compute_device() const { return compute_; }
  /// Bytes of the largest block: the streaming window the arbiter must reserve.
  std::uint64_t largest_block_bytes() const { return largest_block_bytes_; }
  std::uint64_t total_bytes() const { return total_bytes_; }
  /// Block names and their bytes.
  std::map<std::string, std::uint64_t> block_bytes() const;
  SequentialStreamStats stats() const;

 private:
  struct Block {
    std::vector<std::string> names;   // the parameters' names, in the order of handles
    std::vector<at::Tensor> handles;  // the model's own TensorImpls
    std::uint64_t bytes = 0;
    // While on the device: users inside the block and the host tensors to re-seat back onto.
    int users = 0;
    std::vector<at::Tensor> host;
    std::uint64_t copied_bytes = 0;   // what this visit put on the device (0 when all were there)
  };
  SequentialStreamer(std::map<std::string, Block> blocks, c10::Device compute);

  c10::Device compute_;
  std::uint64_t largest_block_bytes_ = 0;
  std::uint64_t total_bytes_ = 0;
  mutable std::mutex mutex_;  // guards blocks_' visit state and stats_; held while copying
  std::map<std::string, Block> blocks_;
  SequentialStreamStats stats_;
};

}  // namespace sdxl::memory
