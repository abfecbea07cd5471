#include "models/clip/sdxl_text_encoders.h"

#include <ATen/ATen.h>

namespace sdxl::models::clip {

sdk::Result<SdxlTextEncoders> SdxlTextEncoders::from_checkpoint(const loader::Checkpoint& ck,
                                                                const at::TensorOptions& compute) {
  SdxlTextEncoders e;
  e.has_te1_ = ck.has_component("text_encoder");
  for (int k = e.has_te1_ ? 0 : 1; k < 2; ++k) {
    auto cw = ck.component(k == 0 ? "text_encoder" : "text_encoder_2");
    if (!cw.ok()) return cw.status();
    auto enc = ClipTextEncoder::create((*cw)->tensors, &(*cw)->config, compute);
    if (!enc.ok()) return sdk::Status(enc.status().code(), (*cw)->source + ": " + enc.status().message());
    (k == 0 ? e.te1_ : e.te2_) = std::move(enc).value();
  }
  if (e.te2_.config().projection_dim == 0)
    return sdk::corrupt_data(ck.path.string() + ": text_encoder_2 has no text_projection.weight (needed for pooling)");
  return e;
}

sdk::Result<SdxlTextEncoders> SdxlTextEncoders::load(const std::filesystem::path& model,
                                                     const std::filesystem::path& model_config,
                                                     const at::TensorOptions& compute) {
  loader::LoadOptions opts;
  opts.model_config = model_config;
  opts.components = {"text_encoder", "text_encoder_2"};
  auto ck = loader::load_checkpoint(model, opts);
  if (!ck.ok()) return ck.status();
  return from_checkpoint(ck.value(), compute);
}

sdk::Result<SdxlTextEmbeddings> SdxlTextEncoders::encode(const at::Tensor& ids1, const at::Tensor& ids2) const {
  if (!ids1.defined() || !ids2.defined() || ids1.dim() != 2 || ids2.dim() != 2 || ids1.size(0) != ids2.size(0))
    return sdk::invalid_argument("SDXL text encoders: ids1 and ids2 must be [B, tokens] with the same B");
  ClipForwardOptions penultimate_only;
  penultimate_only.run_last_layer = false;  // SDXL never uses TE1's last layer
  auto o2 = te2_.forward(ids2);
  if (!o2.ok()) return o2.status();
  if (!has_te1_) return SdxlTextEmbeddings{o2->penultimate, o2->pooled};
  auto o1 = te1_.forward(ids1, penultimate_only);
  if (!o1.ok()) return o1.status();
  return sdk::guard("SdxlTextEncoders::encode", [&]() -> sdk::Result<SdxlTextEmbeddings> {
    if (o1->penultimate.size(1) != o2->penultimate.size(1))
      return sdk::invalid_argument("SDXL text encoders: ids1 and ids2 have different token counts");
    SdxlTextEmbeddings out;
    out.prompt_embeds = at::cat({o1->penultimate, o2->penultimate}, -1);
    out.pooled = o2->pooled;
    return out;
  });
}

}  // namespace sdxl::models::clip
