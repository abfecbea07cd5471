#include "weight_delta.h"

#include <ATen/ATen.h>

#include <numeric>

#include "sdxl/sdk/shape_text.h"

namespace sdxl::lora {
namespace {

using Shape = std::vector<std::int64_t>;

Shape dims(const at::Tensor& t) { return t.sizes().vec(); }

std::int64_t product(const Shape& s, std::size_t from = 0) {
  std::int64_t p = 1;
  for (std::size_t i = from; i < s.size(); ++i) p *= s[i];
  return p;
}

sdk::Status bad(const std::string& group, const std::string& what) {
  return sdk::invalid_argument("LoRA group '" + group + "': " + what);
}

// A 2-D factor, or a 4-D one whose trailing kernel is 1x1 (conv "up" factors).
bool is_matrix_like(const at::Tensor& t) {
  return t.dim() == 2 || (t.dim() == 4 && t.size(2) == 1 && t.size(3) == 1);
}


sdk::Result<DeltaInfo> validate_low_rank(const DeltaFactors& f, const Shape& target, const std::string& g) {
  if (!f.up.defined() || !f.down.defined())
    return bad(g, std::string("incomplete LoRA group, missing ") + (f.up.defined() ? "lora_down.weight" : "lora_up.weight"));
  if (!is_matrix_like(f.up)) return bad(g, "lora_up.weight has shape " + sdk::shape_text(f.up.sizes()) + ", expected [out, r] or [out, r, 1, 1]");
  if (f.down.dim() != 2 && f.down.dim() != 4)
    return bad(g, "lora_down.weight has shape " + sdk::shape_text(f.down.sizes()) + ", expected [r, in] or [r, in, kh, kw]");
  const std::int64_t r = f.down.size(0);
  const std::int64_t out = f.up.size(0);
  if (f.mid.defined()) {
    // Tucker: dW[o,c,y,x] = sum_ij up[o,i] mid[i,j,y,x] down[j,c]
    if (f.mid.dim() != 4) return bad(g, "lora_mid.weight must be [r, r, kh, kw], got " + sdk::shape_text(f.mid.sizes()));
    if (!is_matrix_like(f.down)) return bad(g, "with lora_mid, lora_down must be [r, in, 1, 1], got " + sdk::shape_text(f.down.sizes()));
    if (f.up.size(1) != f.mid.size(0) || f.mid.size(1) != r)
      return bad(g, "lora_up " + sdk::shape_text(f.up.sizes()) + ", lora_mid " + sdk::shape_text(f.mid.sizes()) + " and lora_down " +
                        sdk::shape_text(f.down.sizes()) + " have incompatible ranks");
    const Shape got = {out, f.down.size(1), f.mid.size(2), f.mid.size(3)};
    if (got != target) return bad(g, "LoCon Tucker product " + sdk::shape_text(got) + " does not fit weight " + sdk::shape_text(target));
    return DeltaInfo{r};
  }
  if (f.up.size(1) != r)
    return bad(g, "lora_up " + sdk::shape_text(f.up.sizes()) + " has rank " + std::to_string(f.up.size(1)) + " but lora_down " +
                      sdk::shape_text(f.down.sizes()) + " has rank " + std::to_string(r) + " (weight " + sdk::shape_text(target) + ")");
  const std::int64_t cols = r == 0 ? 0 : f.down.numel() / r;
  bool fits = !target.empty() && target[0] == out && product(target, 1) == cols;
  // A conv down factor carries the layer's kernel; a 1x1 one may also target a Linear.
  const Shape down_shape = dims(f.down);
  if (fits && f.down.dim() == 4)
    fits = target.size() == 4 ? Shape(target.begin() + 1, target.end()) == Shape(down_shape.begin() + 1, down_shape.end())
                              : is_matrix_like(f.down);
  if (!fits) {
    Shape got = {out};
    if (f.down.dim() == 4) got.insert(got.end(), down_shape.begin() + 1, down_shape.end());
    else got.push_back(cols);
    return bad(g, "LoRA product " + sdk::shape_text(got) + " does not fit weight " + sdk::shape_text(target));
  }
  if (r <= 0) return bad(g, "rank 0");
  return DeltaInfo{r};
}

// One Hadamard factor P = a @ b (plain) or Tucker t x a x b; returns its shape.
sdk::Result<Shape> hadamard_factor(const at::Tensor& a, const at::Tensor& b, const at::Tensor& t, const char* n,
                                   const std::string& g) {
  const std::string an = std::string("hada_w") + n + "_a", bn = std::string("hada_w") + n + "_b";
  if (!a.defined() || !b.defined()) return bad(g, "incomplete LoHa group, missing " + (a.defined() ? bn : an));
  if (a.dim() != 2 || b.dim() != 2)
    return bad(g, "LoHa " + an + " " + sdk::shape_text(a.sizes()) + " and " + bn + " " + sdk::shape_text(b.sizes()) + " must be 2-D");
  if (!t.defined()) {
    if (a.size(1) != b.size(0))
      return bad(g, "LoHa " + an + " " + sdk::shape_text(a.sizes()) + " cannot multiply " + bn + " " + sdk::shape_text(b.sizes()));
    return Shape{a.size(0), b.size(1)};
  }
  const std::string tn = std::string("hada_t") + n;
  if (t.dim() != 4 || t.size(0) != a.size(0) || t.size(1) != b.size(0))
    return bad(g, "LoHa Tucker " + tn + " " + sdk::shape_text(t.sizes()) + " does not match " + an + " " + sdk::shape_text(a.sizes()) +
                      " / " + bn + " " + sdk::shape_text(b.sizes()) + " (expected [r, r, kh, kw] with _a [r, out], _b [r, in])");
  return Shape{a.size(1), b.size(1), t.size(2), t.size(3)};
}

sdk::Result<DeltaInfo> validate_hadamard(const DeltaFactors& f, const Shape& target, const std::string& g) {
  if (f.t1.defined() != f.t2.defined()) return bad(g, "LoHa Tucker needs both hada_t1 and hada_t2");
  auto p1 = hadamard_factor(f.w1a, f.w1b, f.t1, "1", g);
  if (!p1.ok()) return p1.status();
  auto p2 = hadamard_factor(f.w2a, f.w2b, f.t2, "2", g);
  if (!p2.ok()) return p2.status();
  if (p1.value() != p2.value())
    return bad(g, "LoHa products " + sdk::shape_text(p1.value()) + " and " + sdk::shape_text(p2.value()) + " differ");
  const Shape& p = p1.value();
  const bool fits = f.t1.defined() ? p == target
                                   : (!target.empty() && p[0] == target[0] && p[1] == product(target, 1));
  if (!fits) return bad(g, "LoHa product " + sdk::shape_text(p) + " does not fit weight " + sdk::shape_text(target));
  if (f.w1b.size(0) <= 0) return bad(g, "rank 0");
  return DeltaInfo{f.w1b.size(0)};
}

// LoKr's first factor [a, c].
sdk::Result<Shape> kron_w1(const DeltaFactors& f, const std::string& g) {
  if (f.k_w1.defined()) {
    if (!is_matrix_like(f.k_w1)) return bad(g, "lokr_w1 " + sdk::shape_text(f.k_w1.sizes()) + " must be 2-D");
    return Shape{f.k_w1.size(0), f.k_w1.size(1)};
  }
  if (!f.k_w1a.defined() || !f.k_w1b.defined()) return bad(g, "incomplete LoKr group, missing lokr_w1 (or lokr_w1_a + lokr_w1_b)");
  if (f.k_w1a.dim() != 2 || f.k_w1b.dim() != 2 || f.k_w1a.size(1) != f.k_w1b.size(0))
    return bad(g, "LoKr lokr_w1_a " + sdk::shape_text(f.k_w1a.sizes()) + " cannot multiply lokr_w1_b " + sdk::shape_text(f.k_w1b.sizes()));
  return Shape{f.k_w1a.size(0), f.k_w1b.size(1)};
}

// LoKr's second factor [b, d] or [b, d, kh, kw]; `target` supplies the kernel for flattened w2_b.
sdk::Result<Shape> kron_w2(const DeltaFactors& f, const Shape& target, const std::string& g) {
  if (f.k_w2.defined()) {
    if (f.k_w2.dim() != 2 && f.k_w2.dim() != 4) return bad(g, "lokr_w2 " + sdk::shape_text(f.k_w2.sizes()) + " must be 2-D or 4-D");
    // A 2-D full factor for a 1x1 conv acts as [b, d, 1, 1].
    if (f.k_w2.dim() == 2 && target.size() == 4 && target[2] == 1 && target[3] == 1)
      return Shape{f.k_w2.size(0), f.k_w2.size(1), 1, 1};
    return dims(f.k_w2);
  }
  if (!f.k_w2a.defined() || !f.k_w2b.defined()) return bad(g, "incomplete LoKr group, missing lokr_w2 (or lokr_w2_a + lokr_w2_b)");
  if (f.k_w2a.dim() != 2 || f.k_w2b.dim() != 2)
    return bad(g, "LoKr lokr_w2_a " + sdk::shape_text(f.k_w2a.sizes()) + " and lokr_w2_b " + sdk::shape_text(f.k_w2b.sizes()) + " must be 2-D");
  if (f.k_t2.defined()) {
    if (f.k_t2.dim() != 4 || f.k_t2.size(0) != f.k_w2a.size(0) || f.k_t2.size(1) != f.k_w2b.size(0))
      return bad(g, "LoKr Tucker lokr_t2 " + sdk::shape_text(f.k_t2.sizes()) + " does not match lokr_w2_a " +
                        sdk::shape_text(f.k_w2a.sizes()) + " / lokr_w2_b " + sdk::shape_text(f.k_w2b.sizes()));
    return Shape{f.k_w2a.size(1), f.k_w2b.size(1), f.k_t2.size(2), f.k_t2.size(3)};
  }
  if (f.k_w2a.size(1) != f.k_w2b.size(0))
    return bad(g, "LoKr lokr_w2_a " + sdk::shape_text(f.k_w2a.sizes()) + " cannot multiply lokr_w2_b " + sdk::shape_text(f.k_w2b.sizes()));
  const std::int64_t b = f.k_w2a.size(0), n = f.k_w2b.size(1);
  if (target.size() == 4) {
    const std::int64_t k = target[2] * target[3];
    if (k > 0 && n % k == 0) return Shape{b, n / k, target[2], target[3]};
  }
  return Shape{b, n};
}

sdk::Result<DeltaInfo> validate_kronecker(const DeltaFactors& f, const Shape& target, const std::string& g) {
  auto w1 = kron_w1(f, g);
  if (!w1.ok()) return w1.status();
  auto w2 = kron_w2(f, target, g);
  if (!w2.ok()) return w2.status();
  Shape got = {w1.value()[0] * w2.value()[0], w1.value()[1] * w2.value()[1]};
  got.insert(got.end(), w2.value().begin() + 2, w2.value().end());
  if (got != target) return bad(g, "LoKr kron product " + sdk::shape_text(got) + " does not match weight " + sdk::shape_text(target));
  // Both factors full: LyCORIS stores alpha but the scale is 1.
  if (f.k_w1.defined() && f.k_w2.defined()) return DeltaInfo{0};
  const std::int64_t r = f.k_w2b.defined() ? f.k_w2b.size(0) : f.k_w1b.size(0);
  if (r <= 0) return bad(g, "rank 0");
  return DeltaInfo{r};
}

}  // namespace

const char* to_string(Algorithm a) {
  switch (a) {
    case Algorithm::low_rank: return "LoRA";
    case Algorithm::hadamard: return "LoHa";
    case Algorithm::kronecker: return "LoKr";
    case Algorithm::full: return "full";
  }
  return "unknown";
}

sdk::Result<DeltaInfo> validate_delta(const DeltaFactors& f, const Shape& target, const std::string& group) {
  if (target.size() != 2 && target.size() != 4)
    return bad(group, "target weight " + sdk::shape_text(target) + " is neither a Linear nor a Conv2d weight");
  switch (f.algorithm) {
    case Algorithm::low_rank: return validate_low_rank(f, target, group);
    case Algorithm::hadamard: return validate_hadamard(f, target, group);
    case Algorithm::kronecker: return validate_kronecker(f, target, group);
    case Algorithm::full:
      // Same shape, or the same rows flattened differently (a 1x1 conv stored as a matrix).
      if (!f.diff.defined() || f.diff.dim() < 1 || f.diff.size(0) != target[0] || f.diff.numel() != product(target))
        return bad(group, "diff " + (f.diff.defined() ? sdk::shape_text(f.diff.sizes()) : std::string("missing")) +
                              " does not match weight " + sdk::shape_text(target));
      return DeltaInfo{0};
  }
  return bad(group, "unknown algorithm");
}

at::Tensor compute_delta(const DeltaFactors& f, at::IntArrayRef target, c10::Device device) {
  // Factors live on the CPU (file mapping); the product is formed where the base weight is.
  auto f32 = [&](const at::Tensor& t) { return t.to(device, at::kFloat); };
  switch (f.algorithm) {
    case Algorithm::low_rank: {
      const std::int64_t r = f.down.size(0);
      at::Tensor up = f32(f.up).reshape({f.up.size(0), f.up.size(1)});  // [out, r]
      if (f.mid.defined()) {
        at::Tensor down = f32(f.down).reshape({r, f.down.size(1)});  // [r, in]
        return at::einsum("oi,ijyx,jc->ocyx", {up, f32(f.mid), down}).contiguous();
      }
      return at::matmul(up, f32(f.down).reshape({r, -1})).reshape(target);
    }
    case Algorithm::hadamard: {
      if (f.t1.defined()) {
        at::Tensor p1 = at::einsum("ijyx,io,jc->ocyx", {f32(f.t1), f32(f.w1a), f32(f.w1b)});
        at::Tensor p2 = at::einsum("ijyx,io,jc->ocyx", {f32(f.t2), f32(f.w2a), f32(f.w2b)});
        return (p1 * p2).contiguous();
      }
      at::Tensor p1 = at::matmul(f32(f.w1a), f32(f.w1b));
      at::Tensor p2 = at::matmul(f32(f.w2a), f32(f.w2b));
      return (p1 * p2).reshape(target);
    }
    case Algorithm::kronecker: {
      at::Tensor w1 = f.k_w1.defined() ? f32(f.k_w1) : at::matmul(f32(f.k_w1a), f32(f.k_w1b));
      w1 = w1.reshape({w1.size(0), w1.size(1)});  // [a, c]
      at::Tensor w2;
      if (f.k_w2.defined()) {
        w2 = f32(f.k_w2);
        if (w2.dim() == 2 && target.size() == 4) w2 = w2.reshape({w2.size(0), w2.size(1), 1, 1});
      } else if (f.k_t2.defined()) {
        w2 = at::einsum("ijyx,ip,jq->pqyx", {f32(f.k_t2), f32(f.k_w2a), f32(f.k_w2b)});
      } else {
        w2 = at::matmul(f32(f.k_w2a), f32(f.k_w2b));
        if (target.size() == 4) w2 = w2.reshape({w2.size(0), -1, target[2], target[3]});
      }
      if (w2.dim() == 4) w1 = w1.reshape({w1.size(0), w1.size(1), 1, 1});
      // kron views its inputs: give it contiguous ones (einsum results are not).
      return at::kron(w1.contiguous(), w2.contiguous()).contiguous();
    }
    case Algorithm::full: return f32(f.diff).reshape(target).clone();
  }
  return {};
}

}  // namespace sdxl::lora
