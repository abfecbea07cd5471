#pragma once
// Weights of layers that read the same input, kept one after another in one block of memory so
// that they can run as one wider matrix product: the UNet self-attention's q, k and v as one
// [3C, C] product instead of three [C, C] ones (diffusers' fuse_qkv_projections). A GPU keeps more
// of its units busy on one wide product than on three narrow ones, most of all for the small
// products of a 512² picture (docs/performance.md).
//
// The layers keep their own tensors: stacking re-seats each one in place (same TensorImpl, now a
// slice of the shared storage), so the parameter table, merged or runtime LoRAs and the memory
// arbiter see the same tensors as before. Whoever later re-seats one of them on storage of its
// own (moving it off the device and back, say) simply ends the stacking: stacked_rows() then says
// so and the layers compute one product each again. Nothing can go stale.

#include <ATen/core/Tensor.h>

#include <vector>

namespace sdxl::models {

/// Re-seats `weights` (2-D, same width, dtype and device) in place as consecutive row blocks of
/// one new contiguous storage, in the order given. False, with nothing changed, when they are not
/// alike or fewer than two.
bool stack_rows_in_place(const std::vector<at::Tensor>& weights);

/// The [sum of rows, width] matrix made of `weights` when they lie one after another in one
/// storage, contiguous and in this order (as stack_rows_in_place leaves them); undefined when
/// they do not. A view: no copy.
at::Tensor stacked_rows(const std::vector<at::Tensor>& weights);

}  // namespace sdxl::models
