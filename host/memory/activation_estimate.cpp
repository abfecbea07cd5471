#include "memory/activation_estimate.h"

#include <c10/core/ScalarType.h>

#include <algorithm>
#include <cmath>

#include "models/unet/unet_config.h"

namespace sdxl::memory {
namespace {

// models/common/attention.cpp bounds one chunk of the score matrix to this many elements.
constexpr double kMaxScoreElements = 64.0 * 1024 * 1024;

// Fitted to measured peak RSS growth of CPU forwards (docs/memory.md, "Activation estimate"):
// the allocator keeps freed blocks and the count leaves out small tensors (time embedding, text
// context), so the structural count is scaled up; SDXL-width layers also need a workspace that
// does not depend on the image size but on the layer width (weight-sized temporaries of the
// matmuls and convolutions), about 51 x C_max^2 elements; and a fixed slack for the allocator and
// thread pools at small sizes.
constexpr double kFittedFactor = 1.35;
constexpr double kWorkspacePerChannelSquared = 51.0;
constexpr double kFixedSlackBytes = 64.0 * 1024 * 1024;

// Per-level temporaries in channel x area units: a resnet on the up path reads the concatenation
// of the running features and a skip (2C), normalises it (2C), convolves to C twice and adds the
// 1x1 shortcut (3C); a transformer block holds the input, q/k/v, the attention output and the
// GEGLU feed-forward (8C projection, 4C product) at once.
constexpr double kResnetTransient = 7.0;
constexpr double kTransformerTransient = 17.0;

}  // namespace

ActivationCount count_unet_activations(const models::UNetConfig& config, std::int64_t rows, std::int64_t latent_h,
                                       std::int64_t latent_w) {
  ActivationCount out;
  const std::int64_t levels = config.levels();
  double skips = 0, transient = 0, scores = 0;
  std::int64_t h = latent_h, w = latent_w;
  if (levels > 0) skips += static_cast<double>(config.block_out_channels[0]) * h * w;  // conv_in
  for (std::int64_t l = 0; l < levels; ++l) {
    const double c = static_cast<double>(config.block_out_channels[l]);
    const double area = static_cast<double>(h) * w;
    skips += c * area * static_cast<double>(config.layers_per_block);
    const bool attention = l < static_cast<std::int64_t>(config.transformer_layers.size()) && config.transformer_layers[l] > 0;
    transient = std::max(transient, c * area * (attention ? kTransformerTransient : kResnetTransient));
    if (attention) {
      const double heads = l < static_cast<std::int64_t>(config.heads.size()) ? static_cast<double>(config.heads[l]) : 1.0;
      const double per_row = area * area;  // [tokens, tokens] per (row, head)
      const double all = rows * heads * per_row;
      const double chunk = std::max(per_row, std::floor(kMaxScoreElements / per_row) * per_row);
      scores = std::max(scores, 2.0 * std::min(all, chunk));  // scores + softmax output
    }
    if (l + 1 < levels) {  // downsample: stride-2 conv
      h = (h + 1) / 2;
      w = (w + 1) / 2;
      skips += c * static_cast<double>(h) * w;
    }
  }
  out.skip_elements = skips * rows;
  out.transient_elements = transient * rows;
  out.score_elements = scores;
  // Keys and values (2 x 77 x C per row) of every transformer block's cross-attention.
  double kv_channels = 0;
  for (std::int64_t l = 0; l < levels; ++l) {
    const double c = static_cast<double>(config.block_out_channels[l]);
    const std::int64_t u = levels - 1 - l;  // the up level of the same width
    for (std::int64_t j = 0; j < config.layers_per_block; ++j)
      kv_channels += c * static_cast<double>(config.down_depth(l, j));
    for (std::int64_t j = 0; j <= config.layers_per_block; ++j)
      kv_channels += c * static_cast<double>(config.up_depth(u, j));
  }
  if (levels > 0 && config.mid_block_type == "UNetMidBlock2DCrossAttn")
    kv_channels += static_cast<double>(config.block_out_channels.back()) * config.mid_transformer_layers;
  out.context_kv_elements = 2.0 * 77.0 * kv_channels * rows;
  return out;
}

std::uint64_t estimate_unet_activation_bytes(const models::UNetConfig& config, std::int64_t batch, std::int64_t height,
                                             std::int64_t width, c10::ScalarType dtype, bool cfg) {
  const std::int64_t rows = std::max<std::int64_t>(1, batch) * (cfg ? 2 : 1);
  const auto count = count_unet_activations(config, rows, (height + 7) / 8, (width + 7) / 8);
  double widest = 0;
  for (auto c : config.block_out_channels) widest = std::max(widest, static_cast<double>(c));
  const double elements =
      kFittedFactor * count.total() + kWorkspacePerChannelSquared * widest * widest + count.context_kv_elements;
  return static_cast<std::uint64_t>(elements * static_cast<double>(c10::elementSize(dtype)) + kFixedSlackBytes);
}

std::uint64_t estimate_sdxl_activation_bytes(std::int64_t batch, std::int64_t height, std::int64_t width,
                                             c10::ScalarType dtype, bool cfg) {
  models::UNetConfig sdxl;
  sdxl.block_out_channels = {320, 640, 1280};
  sdxl.layers_per_block = 2;
  sdxl.transformer_layers = {0, 2, 10};
  sdxl.heads = {5, 10, 20};
  return estimate_unet_activation_bytes(sdxl, batch, height, width, dtype, cfg);
}

}  // namespace sdxl::memory
