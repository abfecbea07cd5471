#pragma once
// GEGLU, the SDXL transformer's feed-forward activation, in one pass: the projection's output
// [M, 2D] (value columns [0, D), gate columns [D, 2D)) becomes value · gelu(gate) [M, D], gelu
// the exact erf form. libtorch needs two kernels and a [M, D] temporary for it (gelu, then the
// product). The per-thread arithmetic of geglu.cu, written once so the CPU tests run the same
// code (tests/unit/gpu/).
#include <cmath>
#include <cstdint>

#include "gpu/host_device.h"
#include "gpu/kernel_dtype.h"

namespace sdxl::gpu {


struct GegluPlan {
  bool ok = false;
  std::int64_t rows = 0, d = 0;  ///< M and D (the output's width)
  SDXL_HD std::int64_t vectors() const { return rows * (d / kVectorElements); }
};

inline GegluPlan plan_geglu(std::int64_t rows, std::int64_t d) {
  GegluPlan p;
  if (rows <= 0 || d <= 0 || d % kVectorElements != 0) return p;
  p.rows = rows, p.d = d, p.ok = true;
  return p;
}

/// Output vector i: 8 columns of one row.
template <class T, class Load, class Store>
SDXL_HD void geglu_vector(const T* in, const GegluPlan& p, std::int64_t i, T* out, Load load, Store store) {
  const std::int64_t per_row = p.d / kVectorElements;
  const std::int64_t row = i / per_row, col = (i % per_row) * kVectorElements;
  float value[kVectorElements], gate[kVectorElements];
  load(in + row * 2 * p.d + col, value);
  load(in + row * 2 * p.d + p.d + col, gate);
  for (int j = 0; j < kVectorElements; ++j)
    value[j] *= 0.5f * gate[j] * (1.0f + erff(gate[j] * 0.70710678118654752f));
  store(value, out + row * p.d + col);
}

}  // namespace sdxl::gpu
