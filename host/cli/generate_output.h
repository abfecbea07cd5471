#pragma once
// What `sdxl generate` writes: PNG files with A1111's parameters text, the --json summary, and a
// progress bar on stderr (plain lines when stderr is not a terminal).

#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/generate.h"
#include "pipeline/job_settings.h"
#include "pipeline/lora_stack.h"

namespace sdxl::cli {

class GenerateOutput {
 public:
  GenerateOutput(const pipeline::JobSettings& s, std::string model_name, const pipeline::ModelSpec& spec, bool demo,
                 bool json);
  /// Writes one PNG per image of the batch (image i has seed first_seed + i).
  sdk::Status write_batch(const pipeline::GenerateResult& r, std::int64_t first_seed);
  void finish(double seconds);
  void print_json_if_requested();
  /// A1111's short model hash (first 10 hex digits of the file's SHA-256); empty for folders.
  void set_model_hash(std::string h) { model_hash_ = std::move(h); }
  void set_loras(const std::vector<pipeline::LoraRequest>& l) { loras_ = l; }
  /// More "Key: value" infotext fields, written after the LoRAs (e.g. "ControlNet 0").
  void set_extra_fields(std::vector<std::pair<std::string, std::string>> f) { extra_fields_ = std::move(f); }

 private:
  std::string file_name(std::int64_t index, std::int64_t seed) const;
  const pipeline::JobSettings& s_;
  std::string model_name_, device_;
  bool demo_, json_;
  std::int64_t written_ = 0;
  nlohmann::json images_ = nlohmann::json::array();
  std::string sampler_;
  std::string model_hash_;
  std::vector<pipeline::LoraRequest> loras_;
  std::vector<std::pair<std::string, std::string>> extra_fields_;
};

/// "A1111 name" and schedule type of a sampler feature name: dpmpp_2m_karras → ("DPM++ 2M", "Karras").
std::pair<std::string, std::string> a1111_sampler_names(const std::string& feature);

class ProgressBar {
 public:
  explicit ProgressBar(bool tty) : tty_(tty) {}
  void update(std::int64_t batch, std::int64_t batches, std::int64_t done, std::int64_t total);
  void finish();

 private:
  bool tty_;
  bool open_ = false;
};

}  // namespace sdxl::cli
