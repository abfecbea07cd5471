#pragma once
// Moving a component's weights from host memory (usually views of a memory-mapped checkpoint)
// to the GPU through pinned staging buffers.
//
// Why not `tensor.to(cuda)` one by one: each such copy reads pageable memory, so the CUDA driver
// bounces it through its own small pinned buffer, synchronously, on one thread, while the first
// touch of every mapped page is also paid on that thread. Here several threads fill a pinned
// buffer from the mapping (the page faults spread over cores) while the GPU copies the previous
// buffer asynchronously; tensors are visited in file order so a cold read stays sequential.
// Dtype conversion, when asked for, runs on the GPU after the copy (a CPU conversion of 6.6 GB
// takes seconds).
//
// Only for GPU targets by default: for a CPU target `upload_tensors` returns `t.to(device, dtype)`
// (no copy when nothing changes, so mapped weights stay zero-copy). `force_staging` runs the whole
// chunking path on the CPU with ordinary buffers and synchronous copies, which is how the tests
// check it on a machine without a GPU.
//
// Thread rules: call from one thread; it starts and joins its own copy threads per buffer.

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "sdxl/sdk/status.h"

namespace sdxl::io {

struct UploadOptions {
  std::size_t staging_bytes = std::size_t(64) << 20;  ///< size of each staging buffer
  int staging_buffers = 2;                             ///< one fills while the other copies
  int copy_threads = 0;                                ///< 0: min(8, hardware threads)
  bool force_staging = false;                          ///< stage for a CPU target too (tests)
  /// false: return once every copy is queued. The tensors are then ready in the order of the
  /// device's current stream (kernels queued after this see them); the sources have been read.
  bool wait = true;
};

struct UploadStats {
  std::uint64_t bytes = 0;   ///< bytes read from the source tensors
  std::size_t chunks = 0;    ///< staging buffers filled
  std::size_t staging_bytes = 0;  ///< staging memory allocated (pinned on a GPU upload)
  double seconds = 0;        ///< wall time, including the final wait for the device
  bool staged = false;       ///< false: plain per-tensor .to()
  std::string fallback;      ///< why staging was abandoned for plain copies (empty: it was not)
};

/// Every tensor of `tensors` on `device`; floating tensors converted to `dtype` when given
/// (others keep theirs). Staged through pinned buffers when `device` is a CUDA device and
/// staged_upload_enabled(), or when `options.force_staging`. Returns after the data is on the
/// device (or, with `options.wait` false, once it is on its way). `what` names the component in
/// errors.
sdk::Result<std::map<std::string, at::Tensor>> upload_tensors(const std::map<std::string, at::Tensor>& tensors,
                                                              c10::Device device,
                                                              std::optional<c10::ScalarType> dtype,
                                                              const std::string& what,
                                                              const UploadOptions& options = {},
                                                              UploadStats* stats = nullptr);

/// Whether GPU uploads go through the staging buffers ([gpu] staged_upload; default on).
void set_staged_upload_enabled(bool enabled);
bool staged_upload_enabled();

}  // namespace sdxl::io
