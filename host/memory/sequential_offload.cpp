#include "memory/sequential_offload.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <stdexcept>

#include "io/device_upload.h"
#include "memory/parameter_residency.h"
#include "util/logging.h"

namespace sdxl::memory {
namespace {

std::uint64_t bytes_of(const at::Tensor& t) { return static_cast<std::uint64_t>(t.numel()) * t.element_size(); }

}  // namespace

sdk::Result<std::shared_ptr<SequentialStreamer>> SequentialStreamer::create(std::map<std::string, at::Tensor> params,
                                                                            const BlockOf& block_of,
                                                                            c10::Device compute) {
  // Streaming onto the CPU would copy every block for nothing: sequential mode on a CPU job is
  // accounting only (docs/memory.md, "Modes").
  if (compute.is_cpu()) return sdk::invalid_argument("sequential streaming needs a compute device other than the CPU");
  std::map<std::string, Block> blocks;
  for (auto& [name, t] : params) {
    if (!t.defined()) continue;
    const std::string block = block_of(name);
    if (block.empty())
      return sdk::invalid_argument("sequential streaming: parameter '" + name + "' belongs to no block");
    auto& b = blocks[block];
    b.bytes += bytes_of(t);
    b.names.push_back(name);
    b.handles.push_back(std::move(t));  // a handle copy shares the TensorImpl with the model
  }
  return std::shared_ptr<SequentialStreamer>(new SequentialStreamer(std::move(blocks), compute));
}

sdk::Result<std::shared_ptr<SequentialStreamer>> SequentialStreamer::for_unet(const models::UNet2DConditionModel& unet,
                                                                              c10::Device compute) {
  return create(unet.parameters(), &models::UNet2DConditionModel::block_of, compute);
}

SequentialStreamer::SequentialStreamer(std::map<std::string, Block> blocks, c10::Device compute)
    : compute_(compute), blocks_(std::move(blocks)) {
  for (const auto& [_, b] : blocks_) {
    largest_block_bytes_ = std::max(largest_block_bytes_, b.bytes);
    total_bytes_ += b.bytes;
  }
}

void SequentialStreamer::before(const std::string& block) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = blocks_.find(block);
  if (it == blocks_.end()) return;
  Block& b = it->second;
  if (b.users++ > 0) return;  // another forward is inside this block: its copy serves both
  const c10::Device target = physical_device(compute_);
  try {
    c10::NoGradGuard no_grad;
    // Copy first, re-seat after: a failed copy leaves every handle on its host storage.
    std::vector<at::Tensor> host(b.handles.size());
    std::map<std::string, at::Tensor> to_copy;
    std::uint64_t copied = 0;
    for (std::size_t i = 0; i < b.handles.size(); ++i) {
      const at::Tensor& t = b.handles[i];
      // Already on a real device (the weights were never offloaded, e.g. resident mode): use them.
      if (t.device() == target && !target.is_cpu()) continue;
      host[i] = t.detach();  // a new TensorImpl on the same storage: what after() re-seats onto
      to_copy[b.names[i]] = host[i];
      copied += bytes_of(t);
    }
    // Through pinned staging buffers (io/device_upload.h), without waiting: the block's kernels
    // are queued behind the copies on the same stream. A simulated device still gets fresh copies,
    // made by the same staging code.
    io::UploadOptions upload;
    upload.wait = false;
    upload.force_staging = target.is_cpu();
    auto moved = io::upload_tensors(to_copy, target, std::nullopt, "sequential streaming of " + block, upload);
    if (!moved.ok()) throw std::runtime_error(moved.status().message());
    for (std::size_t i = 0; i < b.handles.size(); ++i)
      if (host[i].defined()) b.handles[i].set_(moved.value().at(b.names[i]));
    b.host = std::move(host);
    b.copied_bytes = copied;
    if (copied) ++stats_.blocks_streamed;
    stats_.bytes_copied += copied;
    stats_.device_bytes_now += copied;
    stats_.peak_device_bytes = std::max(stats_.peak_device_bytes, stats_.device_bytes_now);
  } catch (...) {
    --b.users;
    ++stats_.failures;
    throw;  // the forward reports it (UNet2DConditionModel::forward turns it into a Status)
  }
}

void SequentialStreamer::after(const std::string& block) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = blocks_.find(block);
  if (it == blocks_.end()) return;
  Block& b = it->second;
  if (b.users == 0 || --b.users > 0) return;  // unmatched, or another forward still runs it
  try {
    c10::NoGradGuard no_grad;
    for (std::size_t i = 0; i < b.handles.size(); ++i)
      if (b.host[i].defined()) b.handles[i].set_(b.host[i]);  // drops the last reference to the copy
  } catch (const std::exception& e) {
    // set_ onto storage the tensor already had cannot fail short of a bug; say so loudly.
    util::log_error("sequential streaming: re-seating '" + block + "' on the host failed: " + e.what());
  }
  b.host.clear();
  stats_.device_bytes_now -= b.copied_bytes;
  b.copied_bytes = 0;
}

std::map<std::string, std::uint64_t> SequentialStreamer::block_bytes() const {
  std::map<std::string, std::uint64_t> out;
  for (const auto& [name, b] : blocks_) out[name] = b.bytes;
  return out;
}

SequentialStreamStats SequentialStreamer::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace sdxl::memory
