#pragma once
// Sinusoidal embeddings of timesteps (and of SDXL's time ids), as diffusers' get_timestep_embedding:
//   f_k = exp(-ln(10000) * k / (half - freq_shift)), k = 0..half-1
//   emb = [sin(t f), cos(t f)], or [cos, sin] with flip_sin_to_cos (SDXL: cos first, shift 0).
// Plus the TimestepEmbedding MLP (linear_1 -> SiLU -> linear_2).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "models/common/layers.h"

namespace sdxl::models {

/// t: [N] (any numeric dtype) -> [N, dim] float32 (computed in float32 like the reference).
at::Tensor sinusoidal_embedding(const at::Tensor& t, std::int64_t dim, bool flip_sin_to_cos = true,
                                double freq_shift = 0.0);

struct TimestepEmbedding {
  Linear linear_1, linear_2;
  void load(WeightReader& r, const std::string& prefix, std::int64_t in, std::int64_t out);
  at::Tensor operator()(const at::Tensor& x) const;  // [N, in] -> [N, out]
};

}  // namespace sdxl::models
