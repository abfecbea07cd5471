#pragma once
// The settings of one generation job, resolved in layers: built-in defaults, then the
// configuration's [generate] and [model] sections, then a job file (`--job job.toml`), then
// command-line flags. Every layer goes through set(), so a bad value is reported the same way
// whatever its origin, naming where it came from.

#include <cstdint>
#include <string>

#include "config/config.h"
#include "pipeline/control_units.h"
#include "sdxl/sdk/status.h"

namespace sdxl::pipeline {

struct JobSettings {
  std::string prompt;
  std::string negative;
  std::int64_t width = 1024, height = 1024, steps = 30;
  std::int64_t batch_size = 1, batch_count = 1;
  std::int64_t seed = -1;
  double cfg = 5.0, guidance_rescale = 0.0, strength = 0.8;
  std::string sampler;
  std::string prompt_mode = "a1111";
  std::string out = "sdxl-{seed}.png";
  std::string init_image;
  std::string model, model_config, clip_vocab;
  std::string vae;  ///< a VAE of its own ([model] vae, --vae); empty: the checkpoint's
  std::string device = "auto", dtype = "auto";
  /// Micro-conditioning as typed: sizes "WxH", crop "TOP,LEFT"; empty = SDXL's defaults.
  std::string original_size, crop_top_left, target_size;
  std::string negative_original_size, negative_crop_top_left, negative_target_size;
  /// Base → refiner: the refiner's diffusers folder or single file (empty: none), its config folder
  /// for single files, the switch point (fraction of the noise schedule the base covers), and the
  /// refiner's aesthetic-score conditioning.
  std::string refiner, refiner_config;
  double refiner_switch = 0.8, aesthetic_score = 6.0, negative_aesthetic_score = 2.5;
  /// Step previews: every N steps (0: none) into preview_dir, decoded with the TAESD-XL folder or
  /// file preview_taesd (empty: SDXL's linear latent→RGB approximation).
  std::int64_t preview_every = 0;
  std::string preview_dir = ".", preview_taesd;
  /// ControlNet units (`controlnets = [ { model = …, image = … }, … ]` in a job file). A layer that
  /// names units replaces the previous layer's list.
  std::vector<ControlUnitRequest> controls;
  bool size_set = false, steps_set = false, cfg_set = false;  ///< whether anyone chose them (demo model defaults)

  /// Sets one key ("width", "prompt", "cfg"…; '-' and '_' both accepted). `where` names the
  /// origin for messages ("job.toml:3:1", "--width").
  sdk::Status set(const std::string& key, const std::string& value, const std::string& where);
  /// Checks ranges that do not need the model (sizes, steps, strength, counts).
  sdk::Status validate() const;
};

/// "1024x768" (width x height) → {768, 1024} (height, width); "12,34" (top,left) → {12, 34}.
sdk::Result<std::vector<double>> parse_size(const std::string& text, const std::string& what);
sdk::Result<std::vector<double>> parse_pair(const std::string& text, const std::string& what);

/// Defaults + configuration.
JobSettings settings_from_config(const config::Config& c);

/// ControlNet units from a TOML array of tables: { model, image, type, scale, start | guidance_start,
/// end | guidance_end, resize | resize_mode, config | model_config, options = { … } } (options: the
/// type plugin's settings, e.g. low_threshold). `file` names the origin in messages (file:line:col).
sdk::Result<std::vector<ControlUnitRequest>> controls_from_toml(const toml::array& list, const std::string& file);

/// The configuration's [generate] controlnets (empty when absent).
sdk::Result<std::vector<ControlUnitRequest>> controls_from_config(const config::Config& c);

/// Applies a job file: a TOML table of the same keys (unknown keys are errors with line:column).
sdk::Status apply_job_file(JobSettings& s, const std::string& path);

}  // namespace sdxl::pipeline
