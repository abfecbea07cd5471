#pragma once
// Tiled application of a convolutional network with overlap blending (feathering).
//
// The grid is expressed in latent pixels. A tile [y0, y1) x [x0, x1) of the grid reads input
// pixels [y0*in_scale, y1*in_scale) and produces output pixels [y0*out_scale, y1*out_scale)
// (decode: in 1, out 8; encode: in 8, out 1). Tiles overlap by at least `overlap` grid pixels;
// where they do, the outputs are averaged with weights that ramp linearly from the tile's edge
// into its interior, so no tile's border (where its zero padding and its own GroupNorm statistics
// differ most from the untiled network) shows as a seam. Edges on the image border get weight 1.
//
// Result = sum_i w_i * tile_i / sum_i w_i, accumulated in float32.

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::vae_tiling {

struct Span {
  std::int64_t begin = 0;
  std::int64_t end = 0;
};

/// Tile starts along one axis of `length`: one tile when it fits, otherwise the fewest tiles of
/// `tile` with overlap >= `overlap`, spread evenly so the last one ends exactly at `length`.
std::vector<Span> tile_spans(std::int64_t length, std::int64_t tile, std::int64_t overlap);

/// Per-pixel blending weight along one axis for a tile covering output [begin, end) of `length`,
/// with ramps of `ramp` pixels on sides that touch another tile. Shape [end - begin], float32.
at::Tensor edge_ramp(std::int64_t begin, std::int64_t end, std::int64_t length, std::int64_t ramp);

struct TileSettings {
  std::int64_t tile_h = 64;   ///< grid pixels per tile, vertically
  std::int64_t tile_w = 64;   ///< and horizontally (tiles need not be square: full-width strips)
  std::int64_t overlap = 16;  ///< minimum overlap in grid pixels
  std::int64_t in_scale = 1;
  std::int64_t out_scale = 8;
};

/// Runs `fn` on each tile of `input` ([N, C, H, W]) and blends. `fn` returns an output tile; its
/// channel count may differ from the input's. `between_tiles(done, total)` is called after each
/// tile and may return a non-ok Status (cancellation) which stops the loop and is returned.
sdk::Result<at::Tensor> run_tiled(const at::Tensor& input, const TileSettings& s,
                                  const std::function<at::Tensor(const at::Tensor&)>& fn,
                                  const std::function<sdk::Status(std::int64_t, std::int64_t)>& between_tiles);

}  // namespace sdxl::vae_tiling
