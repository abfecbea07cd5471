#include "models/common/resnet_block.h"

#include <ATen/ATen.h>

namespace sdxl::models {

void ResnetBlock2D::load(WeightReader& r, const std::string& prefix, std::int64_t in, std::int64_t out,
                         std::int64_t temb_channels, std::int64_t groups, double eps) {
  norm1.load(r, prefix + ".norm1", in, groups, eps);
  conv1.load(r, prefix + ".conv1", in, out, 3, 1, 1);
  if (temb_channels > 0) time_emb_proj.load(r, prefix + ".time_emb_proj", temb_channels, out);
  norm2.load(r, prefix + ".norm2", out, groups, eps);
  conv2.load(r, prefix + ".conv2", out, out, 3, 1, 1);
  if (in != out) conv_shortcut.load(r, prefix + ".conv_shortcut", in, out, 1);
}

at::Tensor ResnetBlock2D::operator()(const at::Tensor& x, const at::Tensor& temb) const {
  at::Tensor h = conv1(norm1.with_silu(x));
  if (time_emb_proj.weight.defined() && temb.defined()) {
    h = h + time_emb_proj(at::silu(temb)).unsqueeze(-1).unsqueeze(-1);  // [N, out, 1, 1]
  }
  h = conv2(norm2.with_silu(h));
  const at::Tensor skip = conv_shortcut.weight.defined() ? conv_shortcut(x) : x;
  return skip + h;
}

}  // namespace sdxl::models
