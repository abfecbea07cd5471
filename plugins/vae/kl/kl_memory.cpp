#include "kl_memory.h"

#include <ATen/Context.h>

#include <algorithm>
#include <vector>

namespace sdxl::vae_kl {
namespace {

using u64 = std::uint64_t;

// Tracks the largest live set seen while walking the decoder stage by stage. All counts are in
// elements per picture; the caller multiplies by pictures and element size.
struct PeakWalk {
  const DecodePlan& plan;
  u64 peak = 0;

  // Temporary memory of one 3x3 (k=3) or 1x1 convolution reading cin channels and writing cout
  // channels over p output pixels, beyond its output tensor.
  u64 conv_ws(std::int64_t cin, std::int64_t cout, u64 p, std::int64_t k = 3) const {
    switch (plan.conv_workspace) {
      case ConvWorkspace::im2col: return k == 1 ? 0 : static_cast<u64>(cin) * k * k * p;
      case ConvWorkspace::cudnn: return static_cast<u64>(std::max(cin, cout)) * p;
      case ConvWorkspace::onednn: break;
    }
    // oneDNN reorders input and output into its blocked layout (one copy each).
    return static_cast<u64>(cin + cout) * p;
  }
  void see(u64 live) { peak = std::max(peak, live); }

  void conv(std::int64_t cin, std::int64_t cout, u64 p, std::int64_t k = 3) {
    see(cin * p + cout * p + conv_ws(cin, cout, p, k));
  }
  // Channels a norm's output is held twice for (NCHW and its NHWC copy) while a conv reads it.
  u64 copy(std::int64_t c, u64 p) const { return plan.norm_layout_copies ? static_cast<u64>(c) * p : 0; }
  // kl_layers.cpp resnet(): with a shortcut convolution (cin != cout) the shortcut is computed
  // first and the input dropped after norm1, so `held` (what lives beside the main path from conv1
  // on) is the cout-channel shortcut; without one it is the input itself.
  void resnet(std::int64_t cin, std::int64_t cout, u64 p) {
    const u64 in = cin * p;
    const u64 held = cin != cout ? cout * p : in;
    if (cin != cout) {
      see(in + cout * p + conv_ws(cin, cout, p, 1));  // the shortcut conv
      see(in + cout * p + cin * p);                   // norm1 reads the input
    }
    see(held + cin * p + copy(cin, p) + cout * p + conv_ws(cin, cout, p));  // norm1 out alive while conv1 runs
    see(held + 2 * cout * p + copy(cout, p) + conv_ws(cout, cout, p));      // norm2 out alive while conv2 runs
  }
  void attention(std::int64_t c, u64 p) {
    const u64 rows = std::max<u64>(1, std::min<u64>(p, static_cast<u64>(plan.max_score_elements) / p));
    see(c * p + 5 * c * p);                     // input, norm, contiguous copy, q, k, v
    see(c * p + 3 * c * p + 2 * rows * p + c * p);  // q, k, v, scores + softmax, outputs so far
  }
  void upsample(std::int64_t c, u64 p, u64 phase_p) {
    if (!plan.subpixel_upsample) return see(c * p + 4 * c * p + 4 * c * p + conv_ws(c, c, 4 * p));
    const u64 ws = plan.conv_workspace == ConvWorkspace::im2col ? static_cast<u64>(c) * 4 * phase_p  // 2x2 taps
                                                                 : conv_ws(c, c, phase_p);
    see(c * p + 4 * c * p + c * phase_p + ws);
  }
  void norm_out(std::int64_t c, std::int64_t out, u64 p) {
    see(2 * c * p);
    see(c * p + copy(c, p) + out * p + conv_ws(c, out, p));
  }
};

}  // namespace

bool cpu_convolutions_use_im2col() {
  return !(at::hasMKLDNN() && at::globalContext().userEnabledMkldnn());
}

ConvWorkspace conv_workspace_for(c10::Device device) {
  if (device.is_cuda()) return ConvWorkspace::cudnn;
  return cpu_convolutions_use_im2col() ? ConvWorkspace::im2col : ConvWorkspace::onednn;
}

u64 decoder_call_peak(const KlConfig& c, std::int64_t batch, std::int64_t h, std::int64_t w, const DecodePlan& plan) {
  PeakWalk walk{plan};
  std::vector<std::int64_t> ch(c.block_out_channels.rbegin(), c.block_out_channels.rend());
  u64 p = static_cast<u64>(h) * static_cast<u64>(w);
  walk.conv(c.latent_channels, c.latent_channels, p, 1);
  walk.conv(c.latent_channels, ch[0], p);
  walk.resnet(ch[0], ch[0], p);
  if (c.mid_block_add_attention) walk.attention(ch[0], p);
  walk.resnet(ch[0], ch[0], p);
  std::int64_t cin = ch[0];
  for (std::size_t i = 0; i < ch.size(); ++i) {
    for (std::int64_t j = 0; j <= c.layers_per_block; ++j) walk.resnet(j == 0 ? cin : ch[i], ch[i], p);
    if (i + 1 < ch.size()) {
      walk.upsample(ch[i], p, static_cast<u64>(h + 1) * static_cast<u64>(w + 1));  // h, w: this level's
      p *= 4;
      h *= 2;
      w *= 2;
    }
    cin = ch[i];
  }
  walk.norm_out(ch.back(), c.out_channels, p);
  return walk.peak * static_cast<u64>(batch) * static_cast<u64>(plan.element_bytes);
}

u64 estimate_decode_peak(const KlConfig& c, DecodePlan plan) {
  const std::int64_t f = c.downscale();
  const std::int64_t per_call = plan.slice_batch ? 1 : plan.batch;
  const u64 out_pixels = static_cast<u64>(plan.height * f) * static_cast<u64>(plan.width * f);
  const u64 output = static_cast<u64>(plan.batch) * c.out_channels * out_pixels * 4;  // float32 result
  const bool tiled = plan.tiling && (plan.height > plan.tile_h || plan.width > plan.tile_w);
  if (!tiled) return decoder_call_peak(c, per_call, plan.height, plan.width, plan) + output + kRuntimeOverheadBytes;
  const std::int64_t th = std::min(plan.height, plan.tile_h), tw = std::min(plan.width, plan.tile_w);
  // Blend buffers: the accumulator (one slice) and the weight map in float32, plus one tile's
  // float32 copy and its weight ramp while it is being added.
  const u64 accumulator = static_cast<u64>(per_call) * c.out_channels * out_pixels * 4 + out_pixels * 4;
  const u64 tile_px = static_cast<u64>(th * f) * static_cast<u64>(tw * f);
  const u64 tile_blend = static_cast<u64>(per_call) * c.out_channels * tile_px * 4 + tile_px * 4;
  return decoder_call_peak(c, per_call, th, tw, plan) + accumulator + tile_blend + output + kRuntimeOverheadBytes;
}

}  // namespace sdxl::vae_kl
