#pragma once
// GroupNorm (optionally followed by SiLU) over a channels-last tensor [N, H, W, C] in memory:
// the per-thread arithmetic of the three CUDA kernels in group_norm_nhwc.cu, written once here so
// that the CPU tests can run exactly the same code thread by thread (tests/unit/gpu/).
//
// Why it exists: libtorch's GroupNorm returns a channels-first tensor whatever its input, so a
// channels-last network (where cuDNN's fast convolutions are) pays a layout conversion before and
// after every norm. These kernels read channels-last and write channels-last.
//
//   1. moments:  block (n, chunk of pixels). Each thread reads 8 consecutive channels of every
//      R-th pixel of the chunk (16-byte loads for 16-bit types, coalesced across the block) and
//      sums x and x² per channel in float; after a barrier, thread g < G adds its group's
//      channels over the R rows in double and writes one partial (sum, sum of squares).
//   2. finalize: block (n, g). Threads add the chunks' partials (double); thread 0 adds the
//      threads' sums and writes mean and 1/sqrt(var + eps).
//   3. apply:    one thread per 8 channels of one pixel: y = (x − mean)·rstd·w + b, then SiLU.
//
// Variance is E[x²] − mean² in double from float sums of at most a few hundred values each.
#include <cmath>
#include <cstdint>

#include "gpu/host_device.h"
#include "gpu/kernel_dtype.h"

namespace sdxl::gpu {

constexpr int kGnMomentThreads = 256;  // target threads of a moments block
constexpr int kGnFinalizeThreads = 256;
constexpr int kGnPixelsPerRow = 16;    // pixels each moments thread reads per chunk

/// The launch shape for one input; `ok` is false where these kernels do not apply (then the
/// caller uses libtorch's GroupNorm).
struct GroupNormNhwcPlan {
  bool ok = false;
  std::int64_t n = 0, hw = 0, c = 0, groups = 0, per_group = 0;
  std::int64_t vectors = 0;       ///< C / kVectorElements: threads across one pixel
  std::int64_t rows = 0;          ///< pixels a moments block reads side by side (R)
  std::int64_t chunk_pixels = 0;  ///< pixels per moments block
  std::int64_t chunks = 0;        ///< moments blocks per image
  SDXL_HD std::int64_t moment_threads() const { return vectors * rows; }
  SDXL_HD std::int64_t total_vectors() const { return n * hw * vectors; }  ///< apply's threads
};

inline GroupNormNhwcPlan plan_group_norm_nhwc(std::int64_t n, std::int64_t hw, std::int64_t c, std::int64_t groups) {
  GroupNormNhwcPlan p;
  if (n <= 0 || hw <= 0 || groups <= 0 || c % kVectorElements != 0 || c % groups != 0) return p;
  p.vectors = c / kVectorElements;
  if (p.vectors > 1024) return p;  // one pixel per block row must fit a block
  p.n = n, p.hw = hw, p.c = c, p.groups = groups, p.per_group = c / groups;
  p.rows = p.vectors >= kGnMomentThreads ? 1 : kGnMomentThreads / p.vectors;
  p.chunk_pixels = p.rows * kGnPixelsPerRow;
  p.chunks = (hw + p.chunk_pixels - 1) / p.chunk_pixels;
  p.ok = true;
  return p;
}

/// Shared memory of one moments block: sums and squares per (row, channel), in float.
inline std::int64_t moments_shared_floats(const GroupNormNhwcPlan& p) { return 2 * p.rows * p.c; }

/// Moments, before the barrier: thread `t` of block (n, chunk) sums its 8 channels over its
/// pixels into shared[row * C + channel] (sums) and shared[(rows + row) * C + channel] (squares).
template <class T, class Load>
SDXL_HD void gn_moments_thread(const T* x, const GroupNormNhwcPlan& p, std::int64_t n, std::int64_t chunk,
                               std::int64_t t, float* shared, Load to_float) {
  const std::int64_t v = t % p.vectors, row = t / p.vectors;
  float sum[kVectorElements] = {}, sq[kVectorElements] = {};
  const std::int64_t first = chunk * p.chunk_pixels;
  const std::int64_t end = first + p.chunk_pixels < p.hw ? first + p.chunk_pixels : p.hw;
  for (std::int64_t px = first + row; px < end; px += p.rows) {
    float f[kVectorElements];
    to_float(x + ((n * p.hw + px) * p.c + v * kVectorElements), f);
    for (int j = 0; j < kVectorElements; ++j) {
      sum[j] += f[j];
      sq[j] += f[j] * f[j];
    }
  }
  for (int j = 0; j < kVectorElements; ++j) {
    shared[row * p.c + v * kVectorElements + j] = sum[j];
    shared[(p.rows + row) * p.c + v * kVectorElements + j] = sq[j];
  }
}

/// Moments, after the barrier: threads t, t + threads, … < G each add their group over the block's rows and writes
/// partial[((n * chunks + chunk) * G + g) * 2 + {0, 1}] = (sum, sum of squares).
SDXL_HD inline void gn_moments_group(const float* shared, const GroupNormNhwcPlan& p, std::int64_t n,
                                     std::int64_t chunk, std::int64_t g, double* partial) {
  double s = 0, q = 0;
  for (std::int64_t row = 0; row < p.rows; ++row)
    for (std::int64_t c = g * p.per_group; c < (g + 1) * p.per_group; ++c) {
      s += shared[row * p.c + c];
      q += shared[(p.rows + row) * p.c + c];
    }
  double* out = partial + ((n * p.chunks + chunk) * p.groups + g) * 2;
  out[0] = s;
  out[1] = q;
}

/// Finalize, before the barrier: thread t of block (n, g) adds every `threads`-th chunk into
/// shared[t * 2 + {0, 1}].
SDXL_HD inline void gn_finalize_thread(const double* partial, const GroupNormNhwcPlan& p, std::int64_t n,
                                       std::int64_t g, std::int64_t t, std::int64_t threads, double* shared) {
  double s = 0, q = 0;
  for (std::int64_t chunk = t; chunk < p.chunks; chunk += threads) {
    const double* in = partial + ((n * p.chunks + chunk) * p.groups + g) * 2;
    s += in[0];
    q += in[1];
  }
  shared[t * 2] = s;
  shared[t * 2 + 1] = q;
}

/// Finalize, after the barrier (thread 0): stats[(n * G + g) * 2 + {0, 1}] = (mean, rstd).
SDXL_HD inline void gn_finalize_group(const double* shared, std::int64_t threads, const GroupNormNhwcPlan& p,
                                      std::int64_t n, std::int64_t g, double eps, float* stats) {
  double s = 0, q = 0;
  for (std::int64_t t = 0; t < threads; ++t) {
    s += shared[t * 2];
    q += shared[t * 2 + 1];
  }
  const double count = static_cast<double>(p.hw * p.per_group);
  const double mean = s / count;
  double var = q / count - mean * mean;
  if (var < 0) var = 0;  // rounding on a constant group
  stats[(n * p.groups + g) * 2] = static_cast<float>(mean);
  stats[(n * p.groups + g) * 2 + 1] = static_cast<float>(1.0 / sqrt(var + eps));
}

/// Apply: vector i (8 channels of one pixel) of the whole tensor.
template <class T, class Load, class Store, class Param>
SDXL_HD void gn_apply_vector(const T* x, const T* weight, const T* bias, const float* stats,
                             const GroupNormNhwcPlan& p, std::int64_t i, bool silu, T* y, Load to_float,
                             Store from_float, Param param) {
  const std::int64_t v = i % p.vectors, n = i / (p.vectors * p.hw);
  float f[kVectorElements];
  to_float(x + i * kVectorElements, f);
  for (int j = 0; j < kVectorElements; ++j) {
    const std::int64_t c = v * kVectorElements + j, g = c / p.per_group;
    const float mean = stats[(n * p.groups + g) * 2], rstd = stats[(n * p.groups + g) * 2 + 1];
    float out = (f[j] - mean) * rstd * param(weight[c]) + param(bias[c]);
    if (silu) out = out / (1.0f + expf(-out));
    f[j] = out;
  }
  from_float(f, y + i * kVectorElements);
}

}  // namespace sdxl::gpu
