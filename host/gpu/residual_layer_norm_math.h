#pragma once
// A residual add followed by LayerNorm over the last dimension, in one pass:
//   sum = x + residual;  normed = (sum − mean) / sqrt(var + eps) · weight + bias
// (the SDXL transformer's "h = attn(…) + h; n = norm(h)", twice per block and once between
// blocks: 199 times per UNet call). libtorch needs two kernels for it: the add writes sum, and
// LayerNorm reads it again.
// The per-thread arithmetic of residual_layer_norm.cu, written once so that the CPU tests run the
// same code thread by thread (tests/unit/gpu/).
//
// One block per row; thread t owns 8 consecutive channels (one 16-byte access for 16-bit types)
// and keeps them in registers: (1) add, round to the storage type, store sum, sum the rounded
// values; block sum → mean; (2) sum of squared deviations; block sum → var (two passes over
// registers, not E[x²] − mean²); (3) normalise, scale, shift, store. The norm sees the sum as
// stored, rounded to its dtype, as libtorch's LayerNorm reading libtorch's sum would.
#include <cstdint>

#include "gpu/host_device.h"
#include "gpu/kernel_dtype.h"

namespace sdxl::gpu {

struct ResidualNormPlan {
  bool ok = false;
  std::int64_t rows = 0, c = 0;
  std::int64_t vectors = 0;  ///< C / kVectorElements: the threads of a row that work
  int threads = 0;           ///< vectors rounded up to whole warps (the block size)
  float eps = 1e-5f;
};

inline ResidualNormPlan plan_residual_layer_norm(std::int64_t rows, std::int64_t c, double eps) {
  ResidualNormPlan p;
  if (rows <= 0 || c <= 0 || c % kVectorElements != 0 || c / kVectorElements > 1024) return p;
  p.rows = rows, p.c = c, p.vectors = c / kVectorElements;
  p.threads = static_cast<int>((p.vectors + 31) / 32 * 32);
  p.eps = static_cast<float>(eps);
  p.ok = true;
  return p;
}

/// Step 1 for vector v of `row`: s = x + residual rounded as stored (`round`), written to `sum`;
/// returns the sum of the 8 rounded values.
template <class T, class Load, class Store, class Round>
SDXL_HD float rln_add_vector(const T* x, const T* residual, const ResidualNormPlan& p, std::int64_t row,
                             std::int64_t v, T* sum, float* s, Load load, Store store, Round round) {
  const std::int64_t at = row * p.c + v * kVectorElements;
  float r[kVectorElements];
  load(x + at, s);
  load(residual + at, r);
  for (int j = 0; j < kVectorElements; ++j) s[j] += r[j];
  round(s);
  store(s, sum + at);
  float total = 0.f;
  for (int j = 0; j < kVectorElements; ++j) total += s[j];
  return total;
}

/// Step 2: the sum of squared deviations from `mean` of the thread's 8 values.
SDXL_HD inline float rln_square_vector(const float* s, float mean) {
  float total = 0.f;
  for (int j = 0; j < kVectorElements; ++j) total += (s[j] - mean) * (s[j] - mean);
  return total;
}

/// Step 3: normed = (s − mean)·rstd·weight + bias for vector v of `row`.
template <class T, class Load, class Store>
SDXL_HD void rln_apply_vector(const float* s, float mean, float rstd, const T* weight, const T* bias,
                              const ResidualNormPlan& p, std::int64_t row, std::int64_t v, T* normed, Load load,
                              Store store) {
  float w[kVectorElements], b[kVectorElements], y[kVectorElements];
  load(weight + v * kVectorElements, w);
  load(bias + v * kVectorElements, b);
  for (int j = 0; j < kVectorElements; ++j) y[j] = (s[j] - mean) * rstd * w[j] + b[j];
  store(y, normed + row * p.c + v * kVectorElements);
}

}  // namespace sdxl::gpu
