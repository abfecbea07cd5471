#pragma once
// A1111's "parameters" text, written into every PNG so A1111's PNG Info, Civitai and other tools
// read our images:
//
//   <prompt>
//   Negative prompt: <negative>
//   Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 1024x1024,
//   Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Denoising strength: 0.6, Lora hashes: "a: 1234", Version: sdxl-worker 0.1.0
//
// Values that contain ',' ':' or '"' are quoted as A1111 does (JSON string quoting).

#include <string>
#include <utility>
#include <vector>

namespace sdxl::pipeline {

struct InfoText {
  std::string prompt;
  std::string negative;
  /// Ordered "Key: value" pairs after the prompt lines (Steps, Sampler, Schedule type, …).
  std::vector<std::pair<std::string, std::string>> fields;

  void add(const std::string& key, const std::string& value) { fields.emplace_back(key, value); }
  std::string render() const;
};

/// Parses a parameters text back (the inverse of render(); used by png-info and tests).
InfoText parse_infotext(const std::string& text);

/// Quotes a value that contains a separator, as A1111 does.
std::string quote_if_needed(const std::string& value);

/// A1111's sampler name and schedule type of a scheduler feature: dpmpp_2m_karras → ("DPM++ 2M",
/// "Karras"); unknown features keep their own name with schedule "Automatic". (The server's copy
/// of cli::a1111_sampler_names, which bin/sdxl can forward to.)
std::pair<std::string, std::string> a1111_sampler_names(const std::string& feature);

}  // namespace sdxl::pipeline
