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

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sdxl::pipeline {

struct LoraRequest;

struct InfoText {
  std::string prompt;
  std::string negative;
  /// Ordered "Key: value" pairs after the prompt lines (Steps, Sampler, Schedule type, …).
  std::vector<std::pair<std::string, std::string>> fields;

  void add(const std::string& key, const std::string& value) { fields.emplace_back(key, value); }
  std::string render() const;
};

/// What one image's parameters text says — the same fields, in the same order, for `sdxl generate`
/// and the job server (so their images read back alike).
struct ImageParameters {
  std::string prompt, negative;
  std::int64_t steps = 0, seed = 0, width = 0, height = 0;
  std::string sampler_feature;                ///< the scheduler feature that ran
  double cfg = 0;
  std::string model_name, model_hash;         ///< hash empty: not written
  bool demo_model = false;                    ///< written as the demo model's label
  std::optional<double> denoising_strength;   ///< img2img / inpaint
  double guidance_rescale = 0;                ///< written as "CFG Rescale phi" when > 0
  std::string loras;                          ///< lora_list_text()
  std::vector<std::pair<std::string, std::string>> extra;  ///< refiner, "ControlNet N", …
  std::string device;                         ///< "cpu float32"
};
InfoText image_infotext(const ImageParameters& p);

/// The fields a job's settings carry, whichever spelling (pipeline::JobSettings for the CLI,
/// server::JobSpec for the server): prompts, steps, size, CFG, rescale, and the strength when an
/// init image is given. The caller adds what the run decided (sampler, model, LoRAs, device…).
template <class Job>
ImageParameters job_image_parameters(const Job& job, std::int64_t seed) {
  ImageParameters p;
  p.prompt = job.prompt;
  p.negative = job.negative;
  p.steps = job.steps;
  p.seed = seed;
  p.width = job.width;
  p.height = job.height;
  p.cfg = job.cfg;
  if (!job.init_image.empty()) p.denoising_strength = job.strength;
  p.guidance_rescale = job.guidance_rescale;
  return p;
}

/// A1111's LoRA list, "name:weight" or "name:te:unet" when the weights differ, comma-separated.
std::string lora_list_text(const std::vector<LoraRequest>& loras);

/// Parses a parameters text back (the inverse of render(); used by png-info and tests).
InfoText parse_infotext(const std::string& text);

/// Quotes a value that contains a separator, as A1111 does.
std::string quote_if_needed(const std::string& value);

/// A1111's sampler name and schedule type of a scheduler feature: dpmpp_2m_karras → ("DPM++ 2M",
/// "Karras"); unknown features keep their own name with schedule "Automatic". (The server's copy
/// of cli::a1111_sampler_names, which bin/sdxl can forward to.)
std::pair<std::string, std::string> a1111_sampler_names(const std::string& feature);

}  // namespace sdxl::pipeline
