#pragma once
// Our CUDA kernels earn their use. Before a kernel's first call for each dtype its wrapper
// compares it with libtorch on small random inputs; a mismatch or a launch error is reported
// once to the kernel log and the wrapper falls back to libtorch for the rest of the process.
// SDXL_CUDA_KERNELS=0 in the environment turns them all off, SDXL_CUDA_KERNELS_OFF=id,id… the
// ones named (side-by-side measurements, or a suspected kernel problem; ids: group_norm_nhwc,
// geglu, residual_layer_norm). Nothing here needs CUDA: it builds (and is tested) everywhere.
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <utility>

#include "gpu/kernel_dtype.h"

namespace sdxl::gpu {

/// Where kernel problems go (default: standard error); the host points it at its logger.
using KernelLog = void (*)(const std::string& message);
void set_kernel_log(KernelLog log);
void report_kernel_problem(const std::string& message);

/// float32 / float16 / bfloat16 as the kernels name them; false for any other type.
bool kernel_dtype(c10::ScalarType t, KernelDtype& out);
/// Whether `t`'s data starts on a vector access's boundary (kVectorElements elements), as the
/// kernels' 16-byte (32 for float32) loads and stores need.
bool vector_aligned(const at::Tensor& t);

// Helpers of the self-checks.
/// Standard-normal float32 values from `gen` (a generator of the check's own, so the process's
/// generators are untouched), moved to `like`'s device.
at::Tensor check_randn(at::IntArrayRef shape, at::Generator& gen, const at::Tensor& like);
/// Empty when `got` (any kernel dtype) matches the float32 `want` within what `got`'s dtype can
/// hold: |got − want| ≤ a + r·|want| with (a, r) = (1e-4, 1e-5) for float32, (1e-2, 2e-3) for
/// float16, (6e-2, 1.6e-2) for bfloat16 (about two units in the last place); else
/// "<what> (<dtype>): max difference <d>".
std::string compare_with_reference(const at::Tensor& got, const at::Tensor& want, const std::string& what);
/// "<name>: CUDA error <error> at launch".
std::string launch_failure(const std::string& name, int cuda_error);

/// Whether `id` is one of the comma-separated ids in `list` (SDXL_CUDA_KERNELS_OFF's form;
/// spaces around the ids are ignored; a null list names none).
bool kernel_listed(const char* list, const std::string& id);

class KernelTrust {
 public:
  /// `id`: the kernel's name in SDXL_CUDA_KERNELS_OFF (empty: only SDXL_CUDA_KERNELS=0 applies).
  explicit KernelTrust(std::string id = {}) : id_(std::move(id)) {}

  /// Whether the kernels may be used for `dtype` (one of kernel_dtype's; never while
  /// SDXL_CUDA_KERNELS=0 or SDXL_CUDA_KERNELS_OFF names this id): runs `check` the first
  /// time (one caller at a time; an exception counts as a failure, with its message), reports a
  /// failure as "<why>; using libtorch instead", and remembers the answer.
  bool trusted(c10::ScalarType dtype, const std::function<bool(std::string& why)>& check);

  /// A wrapper's whole call, for an input that passed its applicability test: `launch` (which
  /// sets `cuda_error` on a failed launch) once `check` has passed for `dtype`. An undefined
  /// tensor means "use libtorch"; a launch error or an exception is reported as "<name>: …".
  at::Tensor run(const std::string& name, c10::ScalarType dtype, const std::function<bool(std::string& why)>& check,
                 const std::function<at::Tensor(int& cuda_error)>& launch);

 private:
  std::string id_;
  std::atomic<int> state_[3] = {};  // per KernelDtype: 0 unchecked, 1 passed, 2 failed
  std::mutex mutex_;
};

}  // namespace sdxl::gpu
