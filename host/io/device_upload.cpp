#include "io/device_upload.h"

#include <ATen/ATen.h>
#include <c10/core/Event.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace sdxl::io {
namespace {

std::atomic<bool> g_staged_upload{true};

// One tensor's bytes (or part of them) travelling through a staging buffer.
struct Piece {
  const std::uint8_t* source = nullptr;
  std::size_t staging_offset = 0;
  std::size_t bytes = 0;
  at::Tensor destination;  // the whole tensor's bytes on the device (kByte, 1-D)
  std::size_t destination_offset = 0;
};

// A tensor whose last piece sits in a buffer: once that buffer's copies are queued it can be
// given its dtype and shape (and converted, on the device, in stream order after the copies).
struct Arrival {
  std::string name;
  at::Tensor raw;  // kByte on the device
  c10::ScalarType stored;
  c10::ScalarType wanted;
  std::vector<std::int64_t> shape;
};

struct StagingBuffer {
  at::Tensor memory;                // pinned on GPU uploads
  std::optional<c10::Event> copied;  // recorded after this buffer's copies were queued
  std::vector<Piece> pieces;
  std::vector<Arrival> arrivals;
  std::size_t used = 0;
};

// Fills the staging buffer from the sources with `threads` threads, each taking an equal share of
// the buffer's bytes: the first touch of mapped pages costs a page fault per 4 KiB, and that, not
// memory bandwidth, is what one thread is limited by.
void fill(const StagingBuffer& buffer, int threads) {
  auto* staging = static_cast<std::uint8_t*>(buffer.memory.data_ptr());
  auto copy_range = [&](std::size_t begin, std::size_t end) {
    for (const Piece& p : buffer.pieces) {
      const std::size_t lo = std::max(begin, p.staging_offset), hi = std::min(end, p.staging_offset + p.bytes);
      if (lo < hi) std::memcpy(staging + lo, p.source + (lo - p.staging_offset), hi - lo);
    }
  };
  const std::size_t total = buffer.used;
  constexpr std::size_t kWorthAThread = std::size_t(4) << 20;
  const int n = static_cast<int>(std::clamp<std::size_t>(total / kWorthAThread, 1, static_cast<std::size_t>(threads)));
  std::vector<std::thread> helpers;
  try {
    for (int k = 1; k < n; ++k) helpers.emplace_back(copy_range, total * k / n, total * (k + 1) / n);
  } catch (...) {  // no thread to be had: a joinable std::thread must not be destroyed
    for (auto& t : helpers) t.join();
    throw;  // the caller falls back to plain copies
  }
  copy_range(0, total / n);
  for (auto& t : helpers) t.join();
}

void wait_for(const c10::Event& event) {
  while (!event.query()) std::this_thread::sleep_for(std::chrono::microseconds(20));
}

class StagedUpload {
 public:
  /// `total_bytes`: what will be added (a smaller upload gets smaller buffers).
  StagedUpload(c10::Device device, const UploadOptions& options, std::size_t total_bytes, UploadStats& stats)
      : device_(device), gpu_(device.is_cuda()), wait_(options.wait), stats_(stats) {
    threads_ = options.copy_threads > 0 ? options.copy_threads
                                        : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
    capacity_ = std::max<std::size_t>(1, std::min(total_bytes, options.staging_bytes));
    buffers_.resize(static_cast<std::size_t>(std::max(options.staging_buffers, 1)));
    if (gpu_) {
      c10::impl::VirtualGuardImpl impl(device_.type());
      if (!device_.has_index()) device_ = c10::Device(device_.type(), impl.getDevice().index());
      stream_.emplace(impl.getStream(device_));
    }
  }

  void add(const std::string& name, const at::Tensor& source, c10::ScalarType wanted) {
    const auto bytes = static_cast<std::size_t>(source.nbytes());
    at::Tensor raw = at::empty({static_cast<std::int64_t>(bytes)}, at::TensorOptions().dtype(at::kByte).device(device_));
    const auto* from = static_cast<const std::uint8_t*>(source.data_ptr());
    std::size_t done = 0;
    while (done < bytes) {
      if (current().used == capacity_) next_buffer();
      StagingBuffer& b = current();
      const std::size_t take = std::min(bytes - done, capacity_ - b.used);
      b.pieces.push_back({from + done, b.used, take, raw, done});
      b.used += take;
      done += take;
    }
    current().arrivals.push_back({name, raw, source.scalar_type(), wanted, source.sizes().vec()});
    stats_.bytes += bytes;
  }

  /// Queues what is left and (unless told not to) waits until everything is on the device. Not
  /// waiting is safe for the staging buffers: a pinned block that a queued copy reads is not
  /// handed out again before that copy ends (libtorch's host allocator records the copy's stream).
  std::map<std::string, at::Tensor> finish() {
    flush(current());
    if (gpu_ && wait_) {
      c10::Event done(device_.type());
      done.record(*stream_);
      wait_for(done);
    }
    return std::move(uploaded_);
  }

 private:
  // Buffers are allocated when first filled: an upload that fits one never takes a second.
  StagingBuffer& current() {
    StagingBuffer& b = buffers_[current_];
    if (!b.memory.defined()) {
      b.memory = at::empty({static_cast<std::int64_t>(capacity_)}, at::TensorOptions().dtype(at::kByte).pinned_memory(gpu_));
      stats_.staging_bytes += capacity_;
    }
    return b;
  }

  void next_buffer() {
    flush(current());
    current_ = (current_ + 1) % buffers_.size();
    // The buffer about to be refilled may still be read by the GPU's copies of its last round.
    if (current().copied) wait_for(*current().copied);
  }

  void flush(StagingBuffer& b) {
    if (b.used == 0 && b.arrivals.empty()) return;
    fill(b, threads_);
    for (const Piece& p : b.pieces)
      p.destination.narrow(0, static_cast<std::int64_t>(p.destination_offset), static_cast<std::int64_t>(p.bytes))
          .copy_(b.memory.narrow(0, static_cast<std::int64_t>(p.staging_offset), static_cast<std::int64_t>(p.bytes)),
                 /*non_blocking=*/gpu_);
    if (gpu_) {
      if (!b.copied) b.copied.emplace(device_.type());
      b.copied->record(*stream_);
    }
    for (Arrival& a : b.arrivals) {
      at::Tensor t = a.raw.view(a.stored).view(a.shape);
      uploaded_[a.name] = a.wanted == a.stored ? t : t.to(a.wanted);  // on the device, after the copy
    }
    b.pieces.clear();
    b.arrivals.clear();
    b.used = 0;
    ++stats_.chunks;
  }

  c10::Device device_;
  bool gpu_;
  bool wait_;
  UploadStats& stats_;
  int threads_ = 1;
  std::size_t capacity_ = 1;  // bytes per staging buffer
  std::vector<StagingBuffer> buffers_;
  std::size_t current_ = 0;
  std::optional<c10::Stream> stream_;
  std::map<std::string, at::Tensor> uploaded_;
};

c10::ScalarType wanted_dtype(const at::Tensor& t, std::optional<c10::ScalarType> dtype) {
  return dtype && at::isFloatingType(t.scalar_type()) ? *dtype : t.scalar_type();
}

void copy_directly(const std::map<std::string, at::Tensor>& tensors, c10::Device device,
                   std::optional<c10::ScalarType> dtype, UploadStats& stats, std::map<std::string, at::Tensor>& out) {
  for (const auto& [name, t] : tensors) {
    out[name] = t.to(device, wanted_dtype(t, dtype));
    stats.bytes += t.nbytes();
  }
}

void copy_staged(const std::map<std::string, at::Tensor>& tensors, c10::Device device,
                 std::optional<c10::ScalarType> dtype, const UploadOptions& options, UploadStats& stats,
                 std::map<std::string, at::Tensor>& out) {
  // File order (ascending address) keeps a read from disk sequential.
  std::vector<std::pair<const std::string*, at::Tensor>> order;
  std::size_t total = 0;
  for (const auto& [name, t] : tensors) {
    if (t.device().is_cpu() && t.numel() > 0) {
      order.emplace_back(&name, t.contiguous());
      total += order.back().second.nbytes();
    } else {
      out[name] = t.to(device, wanted_dtype(t, dtype));
    }
  }
  if (order.empty()) return;
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.second.data_ptr() < b.second.data_ptr(); });
  StagedUpload upload(device, options, total, stats);
  for (const auto& [name, t] : order) upload.add(*name, t, wanted_dtype(t, dtype));
  for (auto& [name, t] : upload.finish()) out[name] = std::move(t);
}

std::string first_line(const std::exception& e) {
  const std::string what = e.what();  // c10::Error appends a backtrace
  return what.substr(0, what.find('\n'));
}

}  // namespace

void set_staged_upload_enabled(bool enabled) { g_staged_upload = enabled; }
bool staged_upload_enabled() { return g_staged_upload; }

sdk::Result<std::map<std::string, at::Tensor>> upload_tensors(const std::map<std::string, at::Tensor>& tensors,
                                                              c10::Device device,
                                                              std::optional<c10::ScalarType> dtype,
                                                              const std::string& what, const UploadOptions& options,
                                                              UploadStats* stats_out) {
  UploadStats stats;
  const auto start = std::chrono::steady_clock::now();
  stats.staged = options.force_staging || (device.is_cuda() && staged_upload_enabled());
  try {
    std::map<std::string, at::Tensor> out;
    if (stats.staged) {
      try {
        copy_staged(tensors, device, dtype, options, stats, out);
      } catch (const std::exception& e) {
        // E.g. no pinned memory to be had: plain copies may still work (and fail by themselves
        // when the device is really out of memory). What was uploaded so far is freed first.
        stats = UploadStats{};
        stats.fallback = "staging failed (" + first_line(e) + "); copied tensor by tensor";
        out.clear();
        copy_directly(tensors, device, dtype, stats, out);
      }
    } else {
      copy_directly(tensors, device, dtype, stats, out);
    }
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (stats_out) *stats_out = stats;
    return out;
  } catch (const std::exception& e) {
    return sdk::internal_error(what + ": copying the weights to " + device.str() + " failed: " + first_line(e));
  }
}

}  // namespace sdxl::io
