#include "kl_layers.h"

#include <algorithm>
#include <cmath>

namespace sdxl::vae_kl {

at::Tensor conv(const at::Tensor& x, const Conv& c) {
  return at::conv2d(x, c.weight, c.bias, {c.stride, c.stride}, {c.padding, c.padding});
}

namespace {

// libtorch's GroupNorm. On the CPU, 16-bit input goes through float32: libtorch 1.13's CPU kernel
// loses the statistics of large activations in bfloat16 (the tiny golden model's txt2img decode
// landed at a relative RMS error of 1.30 from the reference, 0.19 with float32 statistics). CUDA's
// kernels accumulate in float32 already, and there a float32 copy of a 1024² activation would
// cost GPU memory the decode's estimate does not count.
at::Tensor libtorch_group_norm(const at::Tensor& x, const Norm& n, const NormSettings& s) {
  if (x.device().is_cpu() && x.scalar_type() != at::kFloat && at::isFloatingType(x.scalar_type()))
    return at::group_norm(x.to(at::kFloat), s.groups, n.weight.to(at::kFloat), n.bias.to(at::kFloat), s.eps)
        .to(x.scalar_type());
  return at::group_norm(x, s.groups, n.weight, n.bias, s.eps);
}

}  // namespace

at::Tensor norm_silu(const at::Tensor& x, const Norm& n, const NormSettings& s) {
  if (s.ops)  // channels-last stays channels-last, in one pass with the SiLU
    if (at::Tensor fused = s.ops->group_norm(x, s.groups, n.weight, n.bias, s.eps, /*silu=*/true); fused.defined())
      return fused;
  at::Tensor h = libtorch_group_norm(x, n, s);
  return at::silu_(h);
}

at::Tensor resnet(at::Tensor x, const Resnet& r, const NormSettings& s) {
  // Each reassignment of h frees the previous intermediate before the next big one is made. With a
  // shortcut convolution the (narrower) shortcut is computed first and the input let go once
  // norm1 has read it: in SDXL's decoder the first resnet at full resolution reads 256 channels
  // and writes 128, and holding its input through conv1 made it the decode's peak (a quarter more
  // memory than this order; kl_memory.cpp counts both). Same operations, same result.
  at::Tensor shortcut = r.conv_shortcut ? conv(x, *r.conv_shortcut) : at::Tensor();
  at::Tensor h = norm_silu(x, r.norm1, s);
  if (shortcut.defined()) x.reset();  // the caller moved its reference in: x's memory is free now
  h = conv(h, r.conv1);
  h = norm_silu(h, r.norm2, s);
  h = conv(h, r.conv2);
  return h.add_(shortcut.defined() ? shortcut : x);
}

at::Tensor attention(const at::Tensor& x, const Attention& a, const NormSettings& s,
                     std::int64_t max_score_elements) {
  const auto n = x.size(0), c = x.size(1), height = x.size(2), width = x.size(3);
  const auto tokens = height * width;
  // h: [N, HW, C]
  at::Tensor h = libtorch_group_norm(x, a.group_norm, s)
                     .view({n, c, tokens})
                     .transpose(1, 2);
  // One head of width C: scale 1/sqrt(C), folded into q.
  at::Tensor q = at::linear(h, a.q_w, a.q_b).mul_(1.0 / std::sqrt(static_cast<double>(c)));
  at::Tensor k = at::linear(h, a.k_w, a.k_b);
  at::Tensor v = at::linear(h, a.v_w, a.v_b);
  h.reset();
  at::Tensor kt = k.transpose(1, 2);  // [N, C, HW]
  const std::int64_t chunk = std::max<std::int64_t>(1, std::min(tokens, max_score_elements / tokens));
  std::vector<at::Tensor> parts;
  for (std::int64_t q0 = 0; q0 < tokens; q0 += chunk) {
    const auto q1 = std::min(tokens, q0 + chunk);
    at::Tensor scores = at::bmm(q.slice(1, q0, q1), kt);  // [N, chunk, HW]
    scores = at::softmax(scores, -1);
    parts.push_back(at::bmm(scores, v));  // [N, chunk, C]
  }
  at::Tensor o = parts.size() == 1 ? parts[0] : at::cat(parts, 1);
  parts.clear();
  o = at::linear(o, a.out_w, a.out_b);  // [N, HW, C]
  return o.transpose(1, 2).reshape({n, c, height, width}).add_(x);
}

at::Tensor downsample(const at::Tensor& x, const Conv& c) {
  // diffusers Downsample2D with padding=0: F.pad(x, (0, 1, 0, 1)) then a stride-2 conv.
  return conv(at::constant_pad_nd(x, {0, 1, 0, 1}, 0), c);
}

at::Tensor upsample(const at::Tensor& x, const Conv& c) {
  at::Tensor u = at::upsample_nearest2d(x, {x.size(2) * 2, x.size(3) * 2});
  return conv(u, c);
}

SubpixelUpsample subpixel_upsample(const Conv& c) {
  // Row (and column) combination of the 3 taps for each phase: [2 offsets, 3 taps].
  const at::Tensor combine[2] = {at::tensor({1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f}).view({2, 3}),
                                 at::tensor({1.0f, 1.0f, 0.0f, 0.0f, 0.0f, 1.0f}).view({2, 3})};
  const at::Tensor w = c.weight.to(at::kCPU, at::kFloat);  // [Cout, Cin, 3, 3]
  SubpixelUpsample u;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      at::Tensor k = at::matmul(at::matmul(combine[dy], w), combine[dx].t());  // [Cout, Cin, 2, 2]
      u.phase_weights[dy][dx] = k.to(c.weight.device(), c.weight.scalar_type()).contiguous(c.weight.suggest_memory_format());
    }
  u.bias = c.bias;
  return u;
}

at::Tensor upsample(const at::Tensor& x, const SubpixelUpsample& u) {
  const auto n = x.size(0), height = x.size(2), width = x.size(3);
  const auto cout = u.phase_weights[0][0].size(0);
  at::Tensor out = at::empty({n, cout, 2 * height, 2 * width}, x.options().memory_format(x.suggest_memory_format()));
  // out[..., 2i+dy, 2j+dx] as a view [N, Cout, H, 2, W, 2] with the phase dimensions selected.
  const at::Tensor phases = out.view({n, cout, height, 2, width, 2});
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      // Padding 1 gives (H+1)×(W+1) outputs; phase dy reads rows i-1+dy .. i+dy, output row i+dy.
      at::Tensor p = at::conv2d(x, u.phase_weights[dy][dx], u.bias, {1, 1}, {1, 1});
      phases.select(5, dx).select(3, dy).copy_(p.slice(2, dy, dy + height).slice(3, dx, dx + width));
    }
  return out;
}

at::Tensor mid_block(const at::Tensor& x, const MidBlock& m, const NormSettings& s,
                     std::int64_t max_score_elements) {
  at::Tensor h = resnet(x, m.resnet0, s);
  if (m.attention) h = attention(h, *m.attention, s, max_score_elements);
  return resnet(h, m.resnet1, s);
}

}  // namespace sdxl::vae_kl
