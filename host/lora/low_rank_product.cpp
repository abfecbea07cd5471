#include "lora/low_rank_product.h"

#include <ATen/ATen.h>

#include "models/common/cpu_matmul.h"

namespace sdxl::lora {

at::Tensor low_rank_product(const sdk::LowRankFactors& f, at::IntArrayRef shape, c10::Device device) {
  const at::Tensor up = f.up.to(device, at::kFloat);  // [out, r]
  if (f.mid.defined()) {
    // Tucker: dW[o,c,y,x] = sum_ij up[o,i] mid[i,j,y,x] down[j,c]; small (convs only), einsum is fine.
    const at::Tensor down = f.down.to(device, at::kFloat).flatten(1);  // [r2, in]
    return at::einsum("oi,ijyx,jc->ocyx", {up, f.mid.to(device, at::kFloat), down}).reshape(shape).contiguous();
  }
  const at::Tensor down = f.down.to(device, at::kFloat).flatten(1);  // [r, K], K = in*kh*kw
  // up @ down == linear(up, down^T): [out, r] x [K, r]^T -> [out, K]. The transposed copy is r x K,
  // small next to the product.
  return models::linear(up, down.t().contiguous()).reshape(shape);
}

}  // namespace sdxl::lora
