#include "models/common/stacked_weights.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

namespace sdxl::models {
namespace {

bool alike(const std::vector<at::Tensor>& weights) {
  if (weights.size() < 2) return false;
  const at::Tensor& first = weights.front();
  for (const auto& w : weights)
    if (!w.defined() || w.dim() != 2 || w.size(1) != first.size(1) || w.scalar_type() != first.scalar_type() ||
        w.device() != first.device())
      return false;
  return true;
}

}  // namespace

bool stack_rows_in_place(const std::vector<at::Tensor>& weights) {
  if (!alike(weights)) return false;
  c10::NoGradGuard no_grad;
  const at::Tensor stacked = at::cat(weights, 0);  // new, contiguous storage
  const std::int64_t width = stacked.size(1);
  std::int64_t offset = 0;
  for (const auto& w : weights) {
    const std::int64_t rows = w.size(0);
    w.set_(stacked.storage(), stacked.storage_offset() + offset, {rows, width}, {width, 1});  // same TensorImpl
    offset += rows * width;
  }
  return true;
}

at::Tensor stacked_rows(const std::vector<at::Tensor>& weights) {
  if (!alike(weights)) return {};
  const at::Tensor& first = weights.front();
  const auto* storage = first.storage().unsafeGetStorageImpl();
  std::int64_t offset = first.storage_offset(), rows = 0;
  for (const auto& w : weights) {
    if (!w.is_contiguous() || w.storage().unsafeGetStorageImpl() != storage || w.storage_offset() != offset)
      return {};
    offset += w.numel();
    rows += w.size(0);
  }
  return first.as_strided({rows, first.size(1)}, {first.size(1), 1});
}

}  // namespace sdxl::models
