// Golden handlers of the text side: cases/tokenizer.json (JSON-only: prompts -> ids) and
// text-encoder cases such as cases/text_encoders.safetensors ([PREFIX.]ids<K> -> hidden states,
// prompt_embeds, pooled). The work is done in tokenizer/tokenizer_golden.h and
// models/clip/text_encoders_golden.h, which the unit tests call directly.
#include "golden/golden_case.h"
#include "models/clip/text_encoders_golden.h"
#include "tokenizer/tokenizer_golden.h"

namespace sdxl::golden {
namespace {

class TokenizerGoldenHandler : public GoldenHandler {
 public:
  std::string name() const override { return "tokenizer"; }
  bool accepts(const GoldenCase& c) const override { return tokenizer::is_tokenizer_case(c); }
  // Only the prompt texts: the expected ids live beside them in the same entries.
  std::set<std::string> allowed_manifest_keys(const GoldenCase&) const override {
    return {"case", "prompts[].prompt"};
  }
  std::set<std::string> allowed_tensors(const GoldenCase&) const override { return {}; }
  sdk::Result<TensorList> replay(const GoldenCase& c, const GoldenOptions& opts,
                                 nlohmann::json* json_out) const override {
    auto tok = tokenizer::tokenizers_for_replay(c, opts);
    if (!tok.ok()) return tok.status();
    auto result = tokenizer::replay_tokenizer_case(c.manifest, tok.value());
    if (!result.ok()) return result.status();
    if (json_out) *json_out = std::move(result).value();
    return TensorList{};
  }
  CompareReport compare(const GoldenCase& full, const TensorList&, const nlohmann::json& json_out) const override {
    return tokenizer::compare_tokenizer_case(full.manifest, json_out);
  }
};

class TextEncoderGoldenHandler : public GoldenHandler {
 public:
  std::string name() const override { return "text_encoders"; }
  bool accepts(const GoldenCase& c) const override {
    return c.tensors && models::clip::is_text_encoder_case(c.manifest);
  }
  std::set<std::string> allowed_manifest_keys(const GoldenCase&) const override {
    return {"case", "params", "tensors"};
  }
  std::set<std::string> allowed_tensors(const GoldenCase& c) const override {
    return models::clip::text_case_inputs(c.manifest);
  }
  bool runs_in_dtype() const override { return true; }
  sdk::Result<TensorList> replay(const GoldenCase& c, const GoldenOptions& opts, nlohmann::json*) const override {
    return models::clip::replay_text_encoders_case(c, opts);
  }
  CompareReport compare(const GoldenCase& full, const TensorList& produced, const nlohmann::json&) const override {
    return models::clip::compare_tensor_case(full, produced);
  }
};

}  // namespace
}  // namespace sdxl::golden

SDXL_REGISTER_GOLDEN_HANDLER(sdxl::golden::TokenizerGoldenHandler)
SDXL_REGISTER_GOLDEN_HANDLER(sdxl::golden::TextEncoderGoldenHandler)
