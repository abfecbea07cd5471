#include "models/common/cpu_matmul.h"

#include <ATen/ATen.h>
#include <torch/csrc/api/include/torch/version.h>

#include <cstdlib>
#include <string>

namespace sdxl::models {
namespace {

bool use_onednn(const at::Tensor& x, const at::Tensor& w) {
  return onednn_matmul_active() && x.device().is_cpu() && w.device().is_cpu() && x.scalar_type() == at::kFloat &&
         w.scalar_type() == at::kFloat && x.numel() > 0 && w.numel() > 0;
}

// x2: [n, in] dense float32, w: [out, in] -> [n, out]
at::Tensor onednn_linear_2d(const at::Tensor& x2, const at::Tensor& w, const at::Tensor& b) {
  c10::optional<at::Tensor> bias;
  if (b.defined()) bias = b.contiguous();
  return at::mkldnn_linear(x2.contiguous().to_mkldnn(), w.contiguous(), bias).to_dense();
}

}  // namespace

bool onednn_matmul_active() {
  static const bool active = [] {
#if TORCH_VERSION_MAJOR >= 2
    return false;
#else
    const char* off = std::getenv("SDXL_NO_ONEDNN_MATMUL");
    if (off && *off && std::string(off) != "0") return false;
    return at::hasMKLDNN() && at::show_config().find("BLAS_INFO=generic") != std::string::npos;
#endif
  }();
  return active;
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  if (!use_onednn(x, w) || x.dim() < 1) return at::linear(x, w, b);
  std::vector<std::int64_t> out_shape = x.sizes().vec();
  out_shape.back() = w.size(0);
  return onednn_linear_2d(x.reshape({-1, x.size(-1)}), w, b).reshape(out_shape);
}

at::Tensor bmm_nt(const at::Tensor& a, const at::Tensor& b) {
  if (!use_onednn(a, b)) return at::bmm(a, b.transpose(1, 2));
  at::Tensor out = at::empty({a.size(0), a.size(1), b.size(1)}, a.options());
  for (std::int64_t i = 0; i < a.size(0); ++i) out[i].copy_(onednn_linear_2d(a[i], b[i], {}));
  return out;
}

at::Tensor conv2d(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, std::int64_t stride,
                  std::int64_t padding) {
#if TORCH_VERSION_MAJOR < 2
  if (use_onednn(x, w) && w.size(-1) == 1 && w.size(-2) == 1) {
    c10::optional<at::Tensor> bias;
    if (b.defined()) bias = b;
    return at::mkldnn_convolution(x.contiguous(), w.contiguous(), bias, {padding, padding}, {stride, stride}, {1, 1}, 1);
  }
#endif
  return at::conv2d(x, w, b, {stride, stride}, {padding, padding});
}

}  // namespace sdxl::models
