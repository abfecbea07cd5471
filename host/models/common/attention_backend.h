#pragma once
// Which of libtorch's scaled-dot-product-attention kernels the UNet and the text encoders use
// ([gpu] attention, `bench_unet --attention`). libtorch picks among flash attention, memory-
// efficient attention, cuDNN attention and the plain "math" formula by a fixed priority and by
// what each kernel accepts; which one is fastest depends on the GPU and the cuDNN version (recent
// libtorch already prefers cuDNN on Hopper with cuDNN newer than 9.15, flash elsewhere). Choosing
// one switches the other fused kernels off; "math" stays on as the fallback for any shape the
// chosen kernel refuses, so a choice never makes a call fail, at worst slower.

#include "sdxl/sdk/status.h"

#include <string>
#include <string_view>

namespace sdxl::models {

enum class AttentionBackend { automatic, flash, cudnn, efficient, math };

/// "auto", "flash", "cudnn", "efficient" or "math"; an error naming the accepted values otherwise.
sdk::Result<AttentionBackend> parse_attention_backend(std::string_view name);
const char* attention_backend_name(AttentionBackend backend);

/// Why this build's libtorch cannot honour `backend` (empty when it can): libtorch 1.x has no
/// scaled_dot_product_attention (our own chunked attention runs, so only "auto" means anything),
/// and cuDNN attention has a switch from libtorch 2.4 on.
std::string attention_backend_unsupported(AttentionBackend backend);

/// Sets libtorch's process-wide switches for `backend` ("auto": every kernel on, libtorch's own
/// choice). Process-wide like libtorch's own switches: set it at start, before jobs run.
sdk::Status set_attention_backend(AttentionBackend backend);
/// parse_attention_backend, then set_attention_backend: the first error of either.
sdk::Status set_attention_backend(std::string_view name);

/// The backend the switches currently select ("auto" when every fused kernel is on; on libtorch
/// 1.x always "auto").
AttentionBackend current_attention_backend();

}  // namespace sdxl::models
