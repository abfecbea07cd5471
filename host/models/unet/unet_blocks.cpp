#include "models/unet/unet_blocks.h"

#include <ATen/ATen.h>

namespace sdxl::models {

void DownBlock::load(WeightReader& r, const UNetConfig& c, std::int64_t l) {
  const std::string p = "down_blocks." + std::to_string(l);
  const auto out = c.block_out_channels[l];
  auto in = l == 0 ? c.block_out_channels[0] : c.block_out_channels[l - 1];
  const bool attention = c.transformer_layers[l] > 0;
  resnets.resize(c.layers_per_block);
  if (attention) attentions.resize(c.layers_per_block);
  for (std::int64_t j = 0; j < c.layers_per_block; ++j) {
    resnets[j].load(r, p + ".resnets." + std::to_string(j), in, out, c.time_embed_dim(), c.norm_num_groups, c.norm_eps);
    if (attention)
      attentions[j].load(r, p + ".attentions." + std::to_string(j), out, c.down_depth(l, j), c.cross_attention_dim, c.heads[l],
                         c.norm_num_groups, c.transformer_norm_eps);
    in = out;
  }
  if (l + 1 < c.levels()) downsampler.load(r, p + ".downsamplers.0.conv", out, out, 3, /*stride=*/2, /*padding=*/1);
}

at::Tensor DownBlock::operator()(at::Tensor x, const at::Tensor& temb, const AttentionContext& context,
                                 std::vector<at::Tensor>* skips) const {
  for (size_t j = 0; j < resnets.size(); ++j) {
    x = resnets[j](x, temb);
    if (!attentions.empty()) x = attentions[j](x, context);
    skips->push_back(x);
  }
  if (downsampler.weight.defined()) {
    x = downsampler(x);
    skips->push_back(x);
  }
  return x;
}

void MidBlock::load(WeightReader& r, const UNetConfig& c) {
  present = !c.mid_block_type.empty();
  cross_attention = c.mid_block_type == "UNetMidBlock2DCrossAttn";
  if (!present) return;
  const auto ch = c.block_out_channels.back();
  resnet0.load(r, "mid_block.resnets.0", ch, ch, c.time_embed_dim(), c.norm_num_groups, c.norm_eps);
  if (!cross_attention) return;  // UNetMidBlock2D as SSD-1B uses it: one resnet
  attention.load(r, "mid_block.attentions.0", ch, c.mid_transformer_layers, c.cross_attention_dim, c.mid_heads,
                 c.norm_num_groups, c.transformer_norm_eps);
  resnet1.load(r, "mid_block.resnets.1", ch, ch, c.time_embed_dim(), c.norm_num_groups, c.norm_eps);
}

at::Tensor MidBlock::operator()(const at::Tensor& x, const at::Tensor& temb, const AttentionContext& context) const {
  if (!present) return x;
  if (!cross_attention) return resnet0(x, temb);
  return resnet1(attention(resnet0(x, temb), context), temb);
}

void UpBlock::load(WeightReader& r, const UNetConfig& c, std::int64_t u) {
  const std::string p = "up_blocks." + std::to_string(u);
  const auto levels = c.levels();
  // Channel bookkeeping as diffusers' UNet2DConditionModel: reversed widths.
  const auto out = c.block_out_channels[levels - 1 - u];
  const auto prev_out = c.block_out_channels[levels - 1 - std::max<std::int64_t>(u - 1, 0)];
  const auto in = c.block_out_channels[levels - 1 - std::min<std::int64_t>(u + 1, levels - 1)];
  const bool attention = c.up_transformer_layers[u] > 0;
  const auto n = c.layers_per_block + 1;
  resnets.resize(n);
  if (attention) attentions.resize(n);
  for (std::int64_t j = 0; j < n; ++j) {
    const auto skip_ch = j == n - 1 ? in : out;
    const auto res_in = j == 0 ? prev_out : out;
    resnets[j].load(r, p + ".resnets." + std::to_string(j), res_in + skip_ch, out, c.time_embed_dim(),
                    c.norm_num_groups, c.norm_eps);
    if (attention)
      attentions[j].load(r, p + ".attentions." + std::to_string(j), out, c.up_depth(u, j), c.cross_attention_dim, c.up_heads[u],
                         c.norm_num_groups, c.transformer_norm_eps);
  }
  if (u + 1 < levels) upsampler.load(r, p + ".upsamplers.0.conv", out, out, 3, 1, 1);
}

at::Tensor UpBlock::operator()(at::Tensor x, const at::Tensor& temb, const AttentionContext& context,
                               std::vector<at::Tensor>* skips) const {
  for (size_t j = 0; j < resnets.size(); ++j) {
    at::Tensor skip = std::move(skips->back());
    skips->pop_back();
    x = resnets[j](at::cat({x, skip}, 1), temb);
    if (!attentions.empty()) x = attentions[j](x, context);
  }
  if (upsampler.weight.defined()) {
    // Nearest upsampling to the next skip tensor's size: x2 for even sizes, and the size diffusers
    // forwards (upsample_size) when a latent side is not a multiple of 2^(levels-1).
    std::vector<std::int64_t> size = {x.size(2) * 2, x.size(3) * 2};
    if (!skips->empty()) size = {skips->back().size(2), skips->back().size(3)};
    x = upsampler(at::upsample_nearest2d(x, at::IntArrayRef(size)));
  }
  return x;
}

}  // namespace sdxl::models
