#include "sampler_config.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace sdxl::schedulers {

using sdk::OptionSpec;
using sdk::OptionType;
using sdk::OptionValue;

namespace {

OptionSpec spec(std::string key, OptionType type, OptionValue def, std::string description,
                std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt,
                std::vector<std::string> choices = {}) {
  OptionSpec s;
  s.key = std::move(key);
  s.type = type;
  s.default_value = std::move(def);
  s.description = std::move(description);
  s.min = min;
  s.max = max;
  s.choices = std::move(choices);
  return s;
}

}  // namespace

OptionSpec option_spec(std::string key, OptionType type, OptionValue def, std::string description,
                       std::optional<double> min, std::optional<double> max, std::vector<std::string> choices) {
  return spec(std::move(key), type, std::move(def), std::move(description), min, max, std::move(choices));
}

namespace {

bool type_matches(const OptionSpec& s, const OptionValue& v) {
  switch (s.type) {
    case OptionType::boolean: return std::holds_alternative<bool>(v);
    case OptionType::integer: return std::holds_alternative<std::int64_t>(v);
    case OptionType::number: return std::holds_alternative<double>(v) || std::holds_alternative<std::int64_t>(v);
    case OptionType::string: return std::holds_alternative<std::string>(v);
  }
  return false;
}

}  // namespace

std::vector<OptionSpec> make_schema(const SchemaTraits& t, const std::map<std::string, OptionValue>& presets) {
  using T = OptionType;
  std::vector<OptionSpec> s;
  s.push_back(spec("num_train_timesteps", T::integer, std::int64_t{1000}, "training timesteps T", 2.0, 100000.0));
  s.push_back(spec("beta_start", T::number, 0.00085, "first training beta", 0.0, 1.0));
  s.push_back(spec("beta_end", T::number, 0.012, "last training beta", 0.0, 1.0));
  s.push_back(spec("beta_schedule", T::string, std::string("scaled_linear"), "training beta schedule",
                   std::nullopt, std::nullopt, {"linear", "scaled_linear", "squaredcos_cap_v2"}));
  s.push_back(spec("prediction_type", T::string, std::string("epsilon"), "what the model predicts",
                   std::nullopt, std::nullopt, {"epsilon", "v_prediction", "sample"}));
  if (t.has_spacing) {
    s.push_back(spec("timestep_spacing", T::string, std::string("leading"), "how inference timesteps are spaced",
                     std::nullopt, std::nullopt, {"leading", "linspace", "trailing"}));
    s.push_back(spec("steps_offset", T::integer, std::int64_t{1}, "added to leading timesteps", 0.0, 1000.0));
  }
  if (t.has_sigma_schedule) {
    s.push_back(spec("use_karras_sigmas", T::boolean, false, "Karras et al. (2022) sigma spacing (rho 7)"));
    s.push_back(spec("sigma_schedule", T::string, std::string("default"),
                     "sigma spacing: default (from the timesteps), karras, exponential, sgm_uniform, beta, ays",
                     std::nullopt, std::nullopt, {"default", "karras", "exponential", "sgm_uniform", "beta", "ays"}));
  }
  if (t.has_eta)
    s.push_back(spec("eta", T::number, t.eta_default, "stochasticity (0 = deterministic)", 0.0, 1.0));
  if (t.has_s_noise) s.push_back(spec("s_noise", T::number, 1.0, "scale of the injected noise", 0.0, 10.0));
  if (t.has_churn) {
    s.push_back(spec("s_churn", T::number, 0.0, "Karras churn (0 = plain Euler)", 0.0, 1000.0));
    s.push_back(spec("s_tmin", T::number, 0.0, "churn only for sigma >= s_tmin", 0.0, std::nullopt));
    s.push_back(spec("s_tmax", T::number, 1e30, "churn only for sigma <= s_tmax", 0.0, std::nullopt));
    s.push_back(spec("s_noise", T::number, 1.0, "scale of the churn noise", 0.0, 10.0));
  }
  if (t.has_solver_order)
    s.push_back(spec("solver_order", T::integer, t.solver_order_default, "multistep order", 1.0,
                     static_cast<double>(t.solver_order_max)));
  if (t.has_original_steps) {
    s.push_back(spec("original_inference_steps", T::integer, std::int64_t{50}, "distillation grid size", 1.0, 1000.0));
    s.push_back(spec("timestep_scaling", T::number, 10.0, "consistency boundary-condition scaling", 0.0, 1000.0));
  }
  if (t.has_set_alpha_to_one)
    s.push_back(spec("set_alpha_to_one", T::boolean, false, "use alpha_cumprod = 1 (not alpha_cumprod[0]) past t = 0"));
  for (auto& o : s) {
    auto it = presets.find(o.key);
    if (it != presets.end()) o.default_value = it->second;
  }
  return s;
}

sdk::Result<SamplerConfig> read_config(const std::string& feature, const std::vector<OptionSpec>& schema,
                                       const sdk::Options& given) {
  auto fail = [&](const std::string& key, const std::string& what) {
    return sdk::invalid_argument("scheduler '" + feature + "': option '" + key + "' " + what);
  };
  for (const auto& [key, value] : given.all()) {
    auto it = std::find_if(schema.begin(), schema.end(), [&](const OptionSpec& s) { return s.key == key; });
    if (it == schema.end()) {
      std::string known;
      for (const auto& s : schema) known += (known.empty() ? "" : ", ") + s.key;
      return fail(key, "is unknown; options: " + known);
    }
    if (!type_matches(*it, value)) return fail(key, std::string("must be of type ") + sdk::to_string(it->type));
    if (it->type == OptionType::integer || it->type == OptionType::number) {
      double v = std::holds_alternative<double>(value) ? std::get<double>(value)
                                                       : static_cast<double>(std::get<std::int64_t>(value));
      if (!std::isfinite(v)) return fail(key, "must be finite");
      std::ostringstream range;
      if ((it->min && v < *it->min) || (it->max && v > *it->max)) {
        range << "is " << v << ", outside [" << (it->min ? std::to_string(*it->min) : "-inf") << ", "
              << (it->max ? std::to_string(*it->max) : "inf") << "]";
        return fail(key, range.str());
      }
    }
    if (it->type == OptionType::string && !it->choices.empty()) {
      const auto& v = std::get<std::string>(value);
      if (std::find(it->choices.begin(), it->choices.end(), v) == it->choices.end()) {
        std::string c;
        for (const auto& x : it->choices) c += (c.empty() ? "" : ", ") + x;
        return fail(key, "is '" + v + "'; choose one of: " + c);
      }
    }
  }
  SamplerConfig cfg;
  cfg.values = sdk::defaults_of(schema);
  for (const auto& [key, value] : given.all()) cfg.values.set(key, value);
  const auto& o = cfg.values;
  cfg.train.num_train_timesteps = o.get_int("num_train_timesteps", 1000);
  cfg.train.beta_start = o.get_number("beta_start", 0.00085);
  cfg.train.beta_end = o.get_number("beta_end", 0.012);
  cfg.train.beta_schedule = o.get_string("beta_schedule", "scaled_linear");
  cfg.prediction_type = o.get_string("prediction_type", "epsilon");
  cfg.timestep_spacing = o.get_string("timestep_spacing", "leading");
  cfg.steps_offset = o.get_int("steps_offset", 1);
  cfg.sigma_schedule = o.get_string("sigma_schedule", "default");
  if (o.get_bool("use_karras_sigmas", false)) {
    if (cfg.sigma_schedule != "default" && cfg.sigma_schedule != "karras")
      return fail("use_karras_sigmas", "conflicts with sigma_schedule '" + cfg.sigma_schedule + "'");
    cfg.sigma_schedule = "karras";
  }
  if (cfg.train.beta_end <= cfg.train.beta_start && cfg.train.beta_schedule != "squaredcos_cap_v2")
    return fail("beta_end", "must be greater than beta_start");
  return cfg;
}

}  // namespace sdxl::schedulers
