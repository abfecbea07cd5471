#pragma once
// A1111's /sdapi/v1/txt2img and /img2img requests (StableDiffusionProcessingTxt2Img / Img2Img in
// A1111's modules/api/models.py) translated into native jobs, and the native results back into
// A1111's response {images: [base64 PNG], parameters: {…}, info: "<JSON string>"}.
//
// Field mapping (A1111 → native job.h): prompt → prompt, negative_prompt → negative, width,
// height, steps, cfg_scale → cfg, seed (-1: random, drawn here so n_iter batches get consecutive
// seeds as in A1111), sampler_name (+ scheduler; legacy sampler_index) → sampler, batch_size,
// n_iter → that many jobs (job k starts at seed + k·batch_size), denoising_strength → strength
// (img2img), init_images[0] → init_image, mask → mask (inpainting_mask_invert = 1 inverts it),
// override_settings.sd_model_checkpoint → model,
// alwayson_scripts.controlnet.args → controlnets (passed through to the ControlNet units).
// Accepted and ignored (no effect here): styles, subseed*, restore_faces, tiling, eta, s_*,
// mask_blur*, inpainting_fill, inpaint_full_res*, resize_mode, save_images, do_not_save_*.
// Refused with 400 rather than silently ignored: enable_hr = true (hires fix), more than one
// init image, script_name (scripts).

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sdxl/sdk/status.h"
#include "server/job.h"
#include "server/job_state.h"

namespace sdxl::server {

struct A1111Jobs {
  std::vector<nlohmann::json> jobs;  ///< native job bodies for parse_job_json, in image order
  nlohmann::json parameters;         ///< the response's "parameters": the request with what was resolved
  bool send_images = true;
  std::int64_t seed = -1;            ///< first image's seed (resolved)
};

/// `available_samplers`: scheduler features (for the sampler mapping); `random_seed` is used when
/// seed is -1 or absent.
sdk::Result<A1111Jobs> a1111_to_jobs(const nlohmann::json& body, bool img2img, const ServerLimits& limits,
                                     const std::vector<std::string>& available_samplers, std::int64_t random_seed);

/// The response body for finished jobs (all done). `info` follows A1111's Processed.js().
nlohmann::json a1111_response(const A1111Jobs& request, const std::vector<JobSnapshot>& results);

/// A1111's /png-info: {info: parameters text, items: other text chunks, parameters: parsed fields}.
sdk::Result<nlohmann::json> a1111_png_info(const std::string& base64_png);

}  // namespace sdxl::server
