#pragma once
/// @file host_services.h
/// What the host lends a plugin: logging, memory leases, a per-job noise source, the compute
/// device and dtype, progress and cancellation, and (since 1.1) faster device operations.
/// @since 1.0
///
/// Ownership: the host owns every service object; a plugin keeps the HostServices pointer it was
/// created with and may use it until the plugin object is destroyed. A NoiseSource or JobContext
/// is valid only during the call it is passed to.
/// Thread rules: Logger and MemoryLeases may be called from any thread. NoiseSource and
/// JobContext belong to one job and are used from the job's thread only.

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "sdxl/sdk/device_ops.h"
#include "sdxl/sdk/status.h"

namespace sdxl::sdk {
inline namespace v1 {

enum class LogLevel { trace, debug, info, warn, error };

/// Writes into the host's logger (spdlog), tagged with the plugin id.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual void log(LogLevel level, std::string_view message) = 0;
};

/// A scratch allocation accounted by the host's memory arbiter. 0 means "no lease".
using LeaseId = std::uint64_t;

/// Memory leases: ask before allocating something large, release when done.
/// A refused lease (StatusCode::out_of_memory) means: do it in smaller pieces or fail cleanly.
class MemoryLeases {
 public:
  virtual ~MemoryLeases() = default;
  /// Reserve `bytes` on `device` under a human-readable `tag` ("vae.kl.decode").
  virtual Result<LeaseId> acquire(std::string_view tag, c10::Device device, std::uint64_t bytes) = 0;
  /// Give a lease back. Releasing 0 or an unknown id is a no-op.
  virtual void release(LeaseId id) = 0;
  /// Bytes still available on `device` under the current budget.
  virtual std::uint64_t available(c10::Device device) const = 0;
};

/// The only source of randomness a plugin may use. Seeded per job by the host, so the same seed
/// gives the same result; plugins never touch a global generator.
class NoiseSource {
 public:
  virtual ~NoiseSource() = default;
  /// Standard-normal tensor of `shape` (float32 unless `dtype` says otherwise) on `device`.
  virtual at::Tensor randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) = 0;
};

/// Progress reporting and cooperative cancellation for one job.
class JobContext {
 public:
  virtual ~JobContext() = default;
  /// `done` of `total` units finished.
  virtual void progress(std::int64_t done, std::int64_t total) = 0;
  /// True once the job was cancelled: stop at the next safe point with StatusCode::cancelled.
  virtual bool cancelled() const = 0;
};

/// Bundle handed to every factory.
struct HostServices {
  Logger* logger = nullptr;          ///< never null when the host creates a plugin object
  MemoryLeases* memory = nullptr;    ///< never null when the host creates a plugin object
  c10::Device device = c10::Device(c10::kCPU);  ///< where tensors should live
  c10::ScalarType dtype = c10::kFloat;          ///< compute dtype of the networks
  /// @since 1.1 (appended: a 1.0 plugin sees the same layout before it). May be null: then use
  /// libtorch for everything.
  const DeviceOps* ops = nullptr;

  void log(LogLevel level, std::string_view m) const {
    if (logger) logger->log(level, m);
  }
};

}  // namespace v1
}  // namespace sdxl::sdk
