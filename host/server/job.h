#pragma once
// A job as the native API receives it (POST /v1/jobs) and the server's bounds on it.
//
// JSON fields (all optional except prompt):
//   prompt, negative            strings (A1111 prompt syntax; <lora:name:w> tags are honoured)
//   width, height               multiples of 8 within limits (default 1024, or 256 on the demo model)
//   steps                       1..max_steps (default 30, 12 on the demo model)
//   sampler                     a scheduler feature name or alias, or "auto"; empty: the model's own
//   cfg, guidance_rescale       cfg >= 0; guidance_rescale in [0, 1]
//   seed                        integer; -1 or absent: random (image i of a job has seed + i)
//   batch_size                  1..max_batch images in this job
//   loras                       [{ "name": "file stem in a LoRA folder", "weight": 0.8 }, …]
//   controlnets                 [ ControlNet units ] (server/job_controlnets.h), checked at submission
//   init_image, mask            base64 PNG (a "data:image/png;base64," prefix is accepted)
//   strength                    img2img strength in (0, 1]
//   model                       a model name from Orchestrator::models(); empty: the current one
//   priority                    integer, higher runs first (clamped to ±max_priority)
//   client                      a name for per-client fairness (the HTTP layer may set it)
//   timeout_s                   seconds from submission; 0: the server default
// Unknown fields are rejected so typos do not silently fall back to defaults.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sdxl/sdk/status.h"

namespace sdxl::server {

struct LoraSpec {
  std::string name;     ///< a LoRA's name inside the configured folders (no paths)
  double weight = 1.0;  ///< UNet and text-encoder multiplier
};

struct JobSpec {
  std::string prompt, negative;
  std::int64_t width = 1024, height = 1024, steps = 30;
  bool size_set = false, steps_set = false, cfg_set = false;  ///< chosen by the client (demo defaults)
  std::string sampler;
  double cfg = 5.0, guidance_rescale = 0.0;
  std::int64_t seed = -1;
  std::int64_t batch_size = 1;
  std::vector<LoraSpec> loras;
  nlohmann::json controlnets = nlohmann::json::array();  ///< raw units (validated later by cnpipe)
  std::vector<unsigned char> init_image, mask;           ///< decoded PNG bytes; empty = none
  double strength = 0.8;
  std::string model;
  std::int64_t priority = 0;
  std::string client;
  double timeout_s = 0;
};

struct ServerLimits {
  std::int64_t max_width = 2048, max_height = 2048;
  std::int64_t max_pixels = 2048 * 2048;  ///< width·height
  std::int64_t max_steps = 150;
  std::int64_t max_batch = 8;             ///< images per job
  std::int64_t max_loras = 8;
  std::int64_t max_controlnets = 4;
  std::int64_t max_prompt_chars = 20000;
  std::int64_t max_priority = 100;
  std::size_t max_request_bytes = 32u << 20;  ///< whole request body
  double max_timeout_s = 3600;
};

/// Parses and checks a request body. Errors are invalid_argument with a message that names the
/// field ("width: must be a multiple of 8 (got 1000)"), suitable for a 400 response.
sdk::Result<JobSpec> parse_job_json(const std::string& body, const ServerLimits& limits);
sdk::Result<JobSpec> parse_job_json(const nlohmann::json& j, const ServerLimits& limits);

/// The range checks of parse_job_json on a spec built in code (Orchestrator::submit runs them).
sdk::Status validate_job(const JobSpec& spec, const ServerLimits& limits);

/// The spec as JSON (images as base64 PNG), parseable by parse_job_json.
nlohmann::json to_json(const JobSpec& spec);

/// Base64 (RFC 4648, standard alphabet, padding optional on decode; whitespace ignored).
std::string base64_encode(const unsigned char* data, std::size_t size);
sdk::Result<std::vector<unsigned char>> base64_decode(const std::string& text, const std::string& what);
/// Base64 PNG bytes (a "data:image/png;base64," prefix is accepted); errors name `field`.
sdk::Result<std::vector<unsigned char>> base64_png(const std::string& text, const std::string& field);

}  // namespace sdxl::server
