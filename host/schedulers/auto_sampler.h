#pragma once

#include <optional>
// sampler = "auto": picks a scheduler from what the job loads. In order:
//   1. a distillation LoRA named or titled LCM / TCD / Lightning / Hyper-SD / Turbo needs its own
//      sampler (lcm; tcd; euler with trailing spacing; euler_a with trailing spacing), keeping
//      the model's training-schedule keys;
//   2. a diffusers model folder's scheduler/scheduler_config.json, mapped key for key;
//   3. otherwise euler, the scheduler SDXL base 1.0 ships with.
// The reason is returned so the job log can say why a sampler was chosen.

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "schedulers/diffusers_config.h"

namespace sdxl::schedulers {

struct AutoHints {
  nlohmann::json scheduler_config;                             ///< null when the model has none
  std::vector<std::string> lora_names;                         ///< file names / ids of active LoRAs
  std::vector<std::map<std::string, std::string>> lora_metadata;  ///< their safetensors __metadata__
  std::string model_name;  ///< checkpoint file/folder name ("sdxl_lightning_4step", "sd_xl_turbo_1.0")
};

struct AutoChoice {
  SchedulerChoice choice;
  std::string reason;
  /// What the distillation was trained for, when one was recognised (used unless the user set
  /// steps/CFG). cfg ≤ 1 means no classifier-free guidance.
  std::optional<std::int64_t> steps;
  std::optional<double> cfg;
};

sdk::Result<AutoChoice> choose_auto_sampler(const AutoHints& hints);

}  // namespace sdxl::schedulers
