#pragma once
// SDXL's two text encoders together and the conditioning they produce:
//   prompt_embeds = concat(te1.penultimate, te2.penultimate, dim -1)   // [B, 77, W1 + W2]
//   pooled        = te2.pooled                                         // [B, P]
// The SDXL refiner has no text_encoder: then prompt_embeds = te2.penultimate ([B, 77, W2]).
// Loads from a diffusers folder or a single-file checkpoint through models/loader (which renames
// conditioner.embedders.* to the transformers names used here).

#include <ATen/core/Tensor.h>

#include <filesystem>

#include "models/clip/clip_text_encoder.h"
#include "models/loader/checkpoint.h"
#include "sdxl/sdk/status.h"

namespace sdxl::models::clip {

struct SdxlTextEmbeddings {
  at::Tensor prompt_embeds;  ///< [B, 77, W1 + W2]
  at::Tensor pooled;         ///< [B, P]
};

class SdxlTextEncoders {
 public:
  /// From an already loaded checkpoint (components text_encoder and text_encoder_2; a checkpoint
  /// without text_encoder, as the refiner, gives encoders without te1).
  static sdk::Result<SdxlTextEncoders> from_checkpoint(const loader::Checkpoint& ck, const at::TensorOptions& compute);
  /// `model`: diffusers folder or single file; `model_config`: diffusers folder with configs
  /// (single files only; empty: inferred with SDXL conventions).
  static sdk::Result<SdxlTextEncoders> load(const std::filesystem::path& model,
                                            const std::filesystem::path& model_config,
                                            const at::TensorOptions& compute);

  /// ids1, ids2: [B, 77] from tokenizer 1 and tokenizer 2 (pooling uses ids2).
  sdk::Result<SdxlTextEmbeddings> encode(const at::Tensor& ids1, const at::Tensor& ids2) const;

  bool has_te1() const { return has_te1_; }
  const ClipTextEncoder& te1() const { return te1_; }
  const ClipTextEncoder& te2() const { return te2_; }

 private:
  ClipTextEncoder te1_, te2_;
  bool has_te1_ = true;
};

}  // namespace sdxl::models::clip
