#pragma once
// Replay of cases/tokenizer.json: tokenizes every prompt of the manifest and writes
// {"prompts": [{"prompt", "bpe_ids", "input_ids_1", "input_ids_2", "input_ids_2_transformers"}]}.
// Only each entry's "prompt" is read from the manifest (entries may also be plain strings).
// input_ids_2 follows the original SDXL / OpenCLIP "!" behaviour (the default), and
// input_ids_2_transformers the diffusers one. host/cli/golden_text.cpp wraps this in a handler.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "golden/golden_case.h"
#include "sdxl/sdk/status.h"
#include "tokenizer/sdxl_tokenizers.h"

namespace sdxl::tokenizer {

/// True for a JSON-only case with a "prompts" list (and "case": "tokenizer" when named).
bool is_tokenizer_case(const golden::GoldenCase& c);

/// Tokenizers for a replay: --model's tokenizer/ + tokenizer_2/ when it is a diffusers folder,
/// else --model-config's, else the --clip-vocab file, else bpe_simple_vocab_16e6.txt.gz in
/// data/clip/ beside the golden tree the case comes from.
sdk::Result<SdxlTokenizers> tokenizers_for_replay(const golden::GoldenCase& c, const golden::GoldenOptions& opts);

sdk::Result<nlohmann::json> replay_tokenizer_case(const nlohmann::json& manifest, const SdxlTokenizers& tokenizers);

/// Exact comparison of every id list the expected manifest and the result both have (bpe_ids,
/// input_ids_1, input_ids_2 required; input_ids_2_transformers when present in both).
golden::CompareReport compare_tokenizer_case(const nlohmann::json& expected, const nlohmann::json& produced);

}  // namespace sdxl::tokenizer
