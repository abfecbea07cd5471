#include "tiling.h"

#include <algorithm>

namespace sdxl::vae_tiling {

std::vector<Span> tile_spans(std::int64_t length, std::int64_t tile, std::int64_t overlap) {
  tile = std::max<std::int64_t>(1, tile);
  overlap = std::clamp<std::int64_t>(overlap, 0, tile - 1);
  if (length <= tile) return {Span{0, length}};
  const std::int64_t stride = tile - overlap;
  const std::int64_t count = (length - tile + stride - 1) / stride + 1;  // ceil((L - T) / S) + 1
  std::vector<Span> spans;
  for (std::int64_t i = 0; i < count; ++i) {
    // Even spread: start_i = round(i * (L - T) / (count - 1)); last start = L - T.
    const std::int64_t start = (i * (length - tile) * 2 + (count - 1)) / (2 * (count - 1));
    spans.push_back(Span{start, start + tile});
  }
  return spans;
}

at::Tensor edge_ramp(std::int64_t begin, std::int64_t end, std::int64_t length, std::int64_t ramp) {
  const std::int64_t n = end - begin;
  at::Tensor w = at::ones({n}, at::kFloat);
  ramp = std::min(ramp, n / 2);
  if (ramp <= 0) return w;
  // (k + 0.5) / ramp for k = 0..ramp-1: strictly positive, so every pixel keeps some weight.
  at::Tensor up = (at::arange(ramp, at::kFloat) + 0.5) / static_cast<double>(ramp);
  if (begin > 0) w.slice(0, 0, ramp).copy_(up);
  if (end < length) w.slice(0, n - ramp, n).copy_(up.flip({0}));
  return w;
}

sdk::Result<at::Tensor> run_tiled(const at::Tensor& input, const TileSettings& s,
                                  const std::function<at::Tensor(const at::Tensor&)>& fn,
                                  const std::function<sdk::Status(std::int64_t, std::int64_t)>& between_tiles) {
  if (s.in_scale <= 0 || s.out_scale <= 0) return sdk::invalid_argument("tiling: scales must be positive");
  const std::int64_t grid_h = input.size(2) / s.in_scale, grid_w = input.size(3) / s.in_scale;
  const auto rows = tile_spans(grid_h, s.tile_h, s.overlap);
  const auto cols = tile_spans(grid_w, s.tile_w, s.overlap);
  const std::int64_t total = static_cast<std::int64_t>(rows.size() * cols.size());
  const std::int64_t out_h = grid_h * s.out_scale, out_w = grid_w * s.out_scale;
  const std::int64_t ramp = s.overlap * s.out_scale;

  at::Tensor acc;         // [N, Cout, outH, outW] float32, on the tiles' device
  at::Tensor weight_sum;  // [outH, outW]
  std::int64_t done = 0;
  for (const auto& r : rows) {
    for (const auto& c : cols) {
      at::Tensor in_tile = input.slice(2, r.begin * s.in_scale, r.end * s.in_scale)
                               .slice(3, c.begin * s.in_scale, c.end * s.in_scale);
      at::Tensor out_tile = fn(in_tile).to(at::kFloat);  // [N, Cout, th, tw]
      const std::int64_t y0 = r.begin * s.out_scale, y1 = r.end * s.out_scale;
      const std::int64_t x0 = c.begin * s.out_scale, x1 = c.end * s.out_scale;
      if (out_tile.size(2) != y1 - y0 || out_tile.size(3) != x1 - x0) {
        return sdk::internal_error("tiling: a tile produced " + std::to_string(out_tile.size(2)) + "x" +
                                   std::to_string(out_tile.size(3)) + " pixels, expected " +
                                   std::to_string(y1 - y0) + "x" + std::to_string(x1 - x0));
      }
      if (!acc.defined()) {
        acc = at::zeros({input.size(0), out_tile.size(1), out_h, out_w}, out_tile.options());
        weight_sum = at::zeros({out_h, out_w}, out_tile.options());
      }
      at::Tensor w = at::outer(edge_ramp(y0, y1, out_h, ramp), edge_ramp(x0, x1, out_w, ramp))
                         .to(out_tile.device());  // [th, tw]
      acc.slice(2, y0, y1).slice(3, x0, x1).add_(out_tile.mul_(w));
      weight_sum.slice(0, y0, y1).slice(1, x0, x1).add_(w);
      ++done;
      if (between_tiles) {
        auto st = between_tiles(done, total);
        if (!st.ok()) return st;
      }
    }
  }
  return acc.div_(weight_sum);
}

}  // namespace sdxl::vae_tiling
