#include "schedulers/diffusers_config.h"

#include <algorithm>
#include <map>
#include <set>

namespace sdxl::schedulers {

namespace {

using nlohmann::json;

bool is_true(const json& c, const char* key) { return c.contains(key) && c[key].is_boolean() && c[key].get<bool>(); }
std::string str(const json& c, const char* key, const std::string& fallback) {
  return c.contains(key) && c[key].is_string() ? c[key].get<std::string>() : fallback;
}

/// diffusers keys shared with our schemas (the caller drops the ones a feature lacks).
const char* const kCommonKeys[] = {"num_train_timesteps", "beta_start",       "beta_end",          "beta_schedule",
                                   "prediction_type",     "timestep_spacing", "steps_offset",      "use_karras_sigmas",
                                   "solver_order",        "algorithm_type",   "lower_order_final", "euler_at_final",
                                   "solver_type",         "set_alpha_to_one", "original_inference_steps",
                                   "timestep_scaling"};

sdk::Status refuse(const std::string& cls, const std::string& what) {
  return sdk::unsupported("scheduler config (" + cls + "): " + what + " is not supported");
}

/// Settings with no counterpart here, per class (diffusers defaults pass).
sdk::Status check_unsupported(const std::string& cls, const json& c) {
  if (c.contains("trained_betas") && !c["trained_betas"].is_null()) return refuse(cls, "trained_betas");
  if (is_true(c, "thresholding")) return refuse(cls, "thresholding=true");
  if (is_true(c, "clip_sample")) return refuse(cls, "clip_sample=true");
  if (is_true(c, "rescale_betas_zero_snr")) return refuse(cls, "rescale_betas_zero_snr=true");
  if (is_true(c, "use_lu_lambdas")) return refuse(cls, "use_lu_lambdas=true");
  if (is_true(c, "use_exponential_sigmas") && is_true(c, "use_karras_sigmas"))
    return refuse(cls, "use_exponential_sigmas together with use_karras_sigmas");
  if (is_true(c, "use_beta_sigmas")) return refuse(cls, "use_beta_sigmas=true");
  if (str(c, "interpolation_type", "linear") != "linear") return refuse(cls, "interpolation_type other than linear");
  if (str(c, "timestep_type", "discrete") != "discrete") return refuse(cls, "timestep_type other than discrete");
  if (str(c, "final_sigmas_type", "zero") != "zero" && cls != "DEISMultistepScheduler")
    return refuse(cls, "final_sigmas_type other than zero");
  if (c.contains("variance_type") && !c["variance_type"].is_null() && c["variance_type"] != "fixed_small")
    return refuse(cls, "variance_type " + c["variance_type"].dump());
  if (c.contains("sigma_min") && !c["sigma_min"].is_null()) return refuse(cls, "sigma_min");
  if (c.contains("sigma_max") && !c["sigma_max"].is_null()) return refuse(cls, "sigma_max");
  if (cls == "PNDMScheduler" && c.contains("skip_prk_steps") && !is_true(c, "skip_prk_steps"))
    return refuse(cls, "skip_prk_steps=false (PRK warm-up)");
  if (cls == "UniPCMultistepScheduler") {
    if (c.contains("predict_x0") && !is_true(c, "predict_x0")) return refuse(cls, "predict_x0=false");
    if (c.contains("disable_corrector") && c["disable_corrector"].is_array() && !c["disable_corrector"].empty())
      return refuse(cls, "disable_corrector");
    if (c.contains("solver_p") && !c["solver_p"].is_null()) return refuse(cls, "solver_p");
  }
  if (cls == "DEISMultistepScheduler" && str(c, "solver_type", "logrho") != "logrho")
    return refuse(cls, "solver_type other than logrho");
  if ((cls == "DPMSolverMultistepScheduler" || cls == "DPMSolverSinglestepScheduler") &&
      str(c, "solver_type", "midpoint") != "midpoint")
    return refuse(cls, "solver_type other than midpoint");
  return sdk::Status::Ok();
}

/// Sigma-schedule suffix from use_karras_sigmas / use_exponential_sigmas.
std::string sigma_suffix(const json& c) {
  if (is_true(c, "use_karras_sigmas")) return "_karras";
  if (is_true(c, "use_exponential_sigmas")) return "_exponential";
  return "";
}

}  // namespace

std::vector<std::string> supported_diffusers_classes() {
  return {"DDIMScheduler",          "DDPMScheduler",           "PNDMScheduler",
          "LMSDiscreteScheduler",   "EulerDiscreteScheduler",  "EulerAncestralDiscreteScheduler",
          "HeunDiscreteScheduler",  "KDPM2DiscreteScheduler",  "KDPM2AncestralDiscreteScheduler",
          "DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler", "UniPCMultistepScheduler",
          "DEISMultistepScheduler", "LCMScheduler",            "TCDScheduler"};
}

sdk::Result<SchedulerChoice> from_diffusers_config(const json& config, std::string cls, const json& step_kwargs) {
  if (!config.is_object()) return sdk::invalid_argument("scheduler config must be a JSON object");
  if (cls.empty()) cls = str(config, "_class_name", "");
  if (cls.empty()) return sdk::invalid_argument("scheduler config has no _class_name");
  if (auto st = check_unsupported(cls, config); !st.ok()) return st;

  SchedulerChoice ch;
  const std::string sfx = sigma_suffix(config);
  const std::string algo = str(config, "algorithm_type", "dpmsolver++");
  const auto order = config.contains("solver_order") && config["solver_order"].is_number_integer()
                         ? config["solver_order"].get<std::int64_t>()
                         : 2;
  if (cls == "DDIMScheduler") {
    ch.feature = "ddim";
  } else if (cls == "DDPMScheduler") {
    ch.feature = "ddpm";
  } else if (cls == "PNDMScheduler") {
    ch.feature = "pndm";
  } else if (cls == "LMSDiscreteScheduler") {
    ch.feature = "lms" + sfx;
  } else if (cls == "EulerDiscreteScheduler") {
    ch.feature = "euler" + sfx;
  } else if (cls == "EulerAncestralDiscreteScheduler") {
    ch.feature = "euler_a";
  } else if (cls == "HeunDiscreteScheduler") {
    ch.feature = "heun" + sfx;
  } else if (cls == "KDPM2DiscreteScheduler") {
    ch.feature = "dpm2" + sfx;
  } else if (cls == "KDPM2AncestralDiscreteScheduler") {
    ch.feature = "dpm2_a" + sfx;
  } else if (cls == "DPMSolverMultistepScheduler") {
    if (algo != "dpmsolver++" && algo != "sde-dpmsolver++")
      return refuse(cls, "algorithm_type '" + algo + "' (only dpmsolver++ and sde-dpmsolver++)");
    if (algo == "sde-dpmsolver++") {
      if (order > 2) return refuse(cls, "solver_order 3 with sde-dpmsolver++");
      ch.feature = "dpmpp_2m_sde" + sfx;
    } else {
      ch.feature = (order == 3 ? "dpmpp_3m" : "dpmpp_2m") + sfx;
    }
  } else if (cls == "DPMSolverSinglestepScheduler") {
    if (algo != "dpmsolver++") return refuse(cls, "algorithm_type '" + algo + "'");
    if (order > 2) return refuse(cls, "solver_order 3");
    if (!sfx.empty()) return refuse(cls, "non-default sigma schedules");
    ch.feature = "dpmpp_2s";
  } else if (cls == "UniPCMultistepScheduler") {
    ch.feature = "unipc" + sfx;
  } else if (cls == "DEISMultistepScheduler") {
    ch.feature = "deis" + sfx;
  } else if (cls == "LCMScheduler") {
    ch.feature = "lcm";
  } else if (cls == "TCDScheduler") {
    ch.feature = "tcd";
  } else {
    std::string known;
    for (const auto& k : supported_diffusers_classes()) known += (known.empty() ? "" : ", ") + k;
    return sdk::unsupported("scheduler class '" + cls + "' is not supported; supported: " + known);
  }
  if (sfx == "_exponential" && ch.feature != "euler_exponential" && ch.feature != "dpmpp_2m_exponential")
    return refuse(cls, "use_exponential_sigmas");

  for (const char* key : kCommonKeys) {
    if (!config.contains(key)) continue;
    // EulerAncestralDiscreteScheduler (0.30.3) has no use_karras_sigmas and ignores the key.
    if (cls == "EulerAncestralDiscreteScheduler" && std::string(key) == "use_karras_sigmas") continue;
    const json& v = config[key];
    if (v.is_boolean()) {
      ch.options.set(key, v.get<bool>());
    } else if (v.is_number_integer()) {
      ch.options.set(key, v.get<std::int64_t>());
    } else if (v.is_number()) {
      ch.options.set(key, v.get<double>());
    } else if (v.is_string()) {
      ch.options.set(key, v.get<std::string>());
    }
  }
  if (step_kwargs.is_object() && step_kwargs.contains("eta") && step_kwargs["eta"].is_number())
    ch.options.set("eta", step_kwargs["eta"].get<double>());
  return ch;
}

sdk::Result<sdk::Options> fit_to_schema(const sdk::Options& options, const std::vector<sdk::OptionSpec>& schema,
                                        const std::string& feature) {
  sdk::Options out;
  for (const auto& [key, value] : options.all()) {
    auto it = std::find_if(schema.begin(), schema.end(), [&](const sdk::OptionSpec& s) { return s.key == key; });
    if (it == schema.end()) continue;  // the class ignores this key, as diffusers does
    sdk::OptionValue v = value;
    if (it->type == sdk::OptionType::number && std::holds_alternative<std::int64_t>(v)) {
      v = static_cast<double>(std::get<std::int64_t>(v));
    } else if (it->type == sdk::OptionType::integer && std::holds_alternative<double>(v)) {
      const double d = std::get<double>(v);
      if (d != static_cast<double>(static_cast<std::int64_t>(d)))
        return sdk::invalid_argument("scheduler '" + feature + "': option '" + key + "' must be an integer");
      v = static_cast<std::int64_t>(d);
    }
    out.set(key, std::move(v));
  }
  return out;
}

}  // namespace sdxl::schedulers
