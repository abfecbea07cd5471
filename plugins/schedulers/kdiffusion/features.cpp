// Feature table of the k-diffusion plugin: sampler × sigma schedule combinations users pick by
// name, with the A1111 / ComfyUI spellings as aliases.
#include "kdiffusion_samplers.h"

namespace sdxl::schedulers {

std::vector<FeatureDef> kdiffusion_features() {
  SchemaTraits sigma;
  sigma.has_sigma_schedule = true;
  SchemaTraits euler = sigma;
  euler.has_churn = true;
  SchemaTraits ancestral = sigma;
  ancestral.has_s_noise = true;
  const std::map<std::string, sdk::OptionValue> karras{{"use_karras_sigmas", true}};
  const std::map<std::string, sdk::OptionValue> exponential{{"sigma_schedule", std::string("exponential")}};
  const std::map<std::string, sdk::OptionValue> sgm{{"sigma_schedule", std::string("sgm_uniform")}};
  const std::map<std::string, sdk::OptionValue> beta{{"sigma_schedule", std::string("beta")}};
  const std::map<std::string, sdk::OptionValue> ays{{"sigma_schedule", std::string("ays")}};
  SchemaTraits ancestral_2s = ancestral;  // k-diffusion's eta: 1 = full ancestral noise, 0 = deterministic 2S
  ancestral_2s.has_eta = true;
  ancestral_2s.eta_default = 1.0;
  SchemaTraits ipndm = sigma;
  ipndm.has_solver_order = true;
  ipndm.solver_order_default = 4;
  ipndm.solver_order_max = 4;
  return {
      {"euler", {"Euler", "EulerDiscreteScheduler"}, "Euler method (Karras et al. 2022, Alg. 2)", euler, {}, make_euler},
      {"euler_karras", {"Euler Karras"}, "Euler with Karras sigmas", euler, karras, make_euler},
      {"euler_exponential", {"Euler Exponential"}, "Euler with exponential sigmas", euler, exponential, make_euler},
      {"euler_sgm_uniform", {"Euler SGM Uniform"}, "Euler with sgm_uniform sigmas", euler, sgm, make_euler},
      {"euler_beta", {"Euler Beta"}, "Euler with beta sigmas (Lee et al. 2024)", euler, beta, make_euler},
      {"euler_ays", {"Euler AYS", "Euler Align Your Steps"}, "Euler with the Align Your Steps SDXL sigmas", euler, ays,
       make_euler},
      {"euler_a", {"Euler a", "euler_ancestral", "Euler Ancestral", "EulerAncestralDiscreteScheduler"},
       "ancestral Euler (k-diffusion)", ancestral, {}, make_euler_ancestral},
      {"heun", {"Heun", "HeunDiscreteScheduler"}, "Heun's second-order method (Karras et al. 2022, Alg. 1)", sigma, {},
       make_heun},
      {"heun_karras", {"Heun Karras"}, "Heun with Karras sigmas", sigma, karras, make_heun},
      {"dpm2", {"DPM2", "dpm_2", "KDPM2DiscreteScheduler"}, "DPM-Solver-2 (k-diffusion sample_dpm_2)", sigma, {},
       make_dpm2},
      {"dpm2_karras", {"DPM2 Karras", "dpm_2_karras"}, "DPM2 with Karras sigmas", sigma, karras, make_dpm2},
      {"dpm2_a", {"DPM2 a", "dpm_2_ancestral", "KDPM2AncestralDiscreteScheduler"},
       "ancestral DPM-Solver-2 (k-diffusion sample_dpm_2_ancestral)", ancestral, {}, make_dpm2_ancestral},
      {"dpm2_a_karras", {"DPM2 a Karras", "dpm_2_ancestral_karras"}, "DPM2 a with Karras sigmas", ancestral, karras,
       make_dpm2_ancestral},
      {"lms", {"LMS", "LMSDiscreteScheduler"}, "linear multistep, order 4 (k-diffusion sample_lms)", sigma, {}, make_lms},
      {"lms_karras", {"LMS Karras"}, "LMS with Karras sigmas", sigma, karras, make_lms},
      {"dpmpp_2s_a", {"DPM++ 2S a", "dpmpp_2s_ancestral", "DPM++ 2S Ancestral"},
       "ancestral DPM-Solver++(2S) (k-diffusion sample_dpmpp_2s_ancestral)", ancestral_2s, {},
       make_dpmpp_2s_ancestral},
      {"dpmpp_2s_a_karras", {"DPM++ 2S a Karras", "dpmpp_2s_ancestral_karras"}, "DPM++ 2S a with Karras sigmas",
       ancestral_2s, karras, make_dpmpp_2s_ancestral},
      {"ipndm", {"IPNDM", "ipndm"}, "improved pseudo-numerical method, order 4 (k-diffusion sample_ipndm)", ipndm, {},
       make_ipndm},
      {"ipndm_karras", {"IPNDM Karras"}, "iPNDM with Karras sigmas", ipndm, karras, make_ipndm},
  };
}

sdk::PluginInfo kdiffusion_plugin_info() {
  return scheduler_plugin_info("org.sdxl.schedulers.kdiffusion", "k-diffusion samplers",
                               "Euler, Euler a, Heun, DPM2, DPM2 a, LMS, DPM++ 2S a and iPNDM in sigma scaling");
}

}  // namespace sdxl::schedulers
