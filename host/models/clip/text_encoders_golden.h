#pragma once
// Replay of text-encoder golden cases (cases/text_encoders.safetensors + .json), written so the
// same code serves any case that records SDXL text conditioning.
//
// Sub-cases are discovered from the manifest: every input tensor named [PREFIX.]ids<K> starts one
// (PREFIX may be empty). Within a sub-case the outputs it can produce (role `output`, and
// `intermediate` when listed) are
//   [PREFIX.]te<K>.{penultimate, last_hidden_state, hidden_states, pooled}   encoder K on ids<K>
//   [PREFIX.]prompt_embeds                 concat of the encoders' penultimate states (K order)
//   [PREFIX.]pooled | pooled_prompt_embeds the pooled output of the encoder with a projection
// Only tensors with role `input` are read. host/cli/golden_text.cpp wraps this in a handler.

#include <set>
#include <string>

#include "golden/golden_case.h"
#include "models/clip/sdxl_text_encoders.h"

namespace sdxl::models::clip {

/// Names of all tensors with role `input`.
std::set<std::string> text_case_inputs(const nlohmann::json& manifest);

/// True when the manifest has [PREFIX.]ids<K> inputs and only outputs this module can produce.
bool is_text_encoder_case(const nlohmann::json& manifest);

/// Runs every sub-case with `encoders` (outputs in float32 on the CPU).
sdk::Result<golden::TensorList> replay_text_encoders_case(const golden::GoldenCase& c, const SdxlTextEncoders& encoders);

/// Loads the encoders from opts.model (+ opts.model_config) in float32 on the CPU and replays.
sdk::Result<golden::TensorList> replay_text_encoders_case(const golden::GoldenCase& c, const golden::GoldenOptions& opts);

/// Every `output` must be produced; produced intermediates are compared too. Tolerances from the
/// manifest's suggested_tolerance ("a|b" alternatives, '*' wildcards; first match wins).
golden::CompareReport compare_tensor_case(const golden::GoldenCase& full, const golden::TensorList& produced);

}  // namespace sdxl::models::clip
