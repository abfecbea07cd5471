// Feature table of the DPM-Solver plugin: solver × sigma schedule, with A1111/ComfyUI aliases.
#include "dpm_solver.h"

namespace sdxl::schedulers {

namespace {
using sdk::OptionType;
using sdk::OptionValue;
using Presets = std::map<std::string, OptionValue>;

std::vector<sdk::OptionSpec> multistep_extra() {
  return {option_spec("algorithm_type", OptionType::string, std::string("dpmsolver++"),
                      "dpmsolver++ (ODE) or sde-dpmsolver++ (stochastic, one draw per step)", std::nullopt,
                      std::nullopt, {"dpmsolver++", "sde-dpmsolver++"}),
          option_spec("lower_order_final", OptionType::boolean, true, "lower orders near the end (< 15 steps)"),
          option_spec("euler_at_final", OptionType::boolean, false, "first-order last step")};
}
}  // namespace

std::vector<FeatureDef> dpm_solver_features() {
  SchemaTraits multi;
  multi.has_sigma_schedule = true;
  multi.has_solver_order = true;
  multi.solver_order_max = 3;
  SchemaTraits single = multi;
  single.has_spacing = false;
  single.solver_order_max = 2;
  SchemaTraits unipc = multi;
  SchemaTraits deis = multi;
  deis.solver_order_max = 2;
  const auto lof = option_spec("lower_order_final", OptionType::boolean, true, "lower orders near the end");
  const auto bh = option_spec("solver_type", OptionType::string, std::string("bh2"), "B(h) of UniPC", std::nullopt,
                              std::nullopt, {"bh1", "bh2"});
  const Presets karras{{"use_karras_sigmas", true}};
  const Presets expo{{"sigma_schedule", std::string("exponential")}};
  const Presets sgm{{"sigma_schedule", std::string("sgm_uniform")}};
  const Presets beta{{"sigma_schedule", std::string("beta")}};
  const Presets ays{{"sigma_schedule", std::string("ays")}};
  const Presets m3{{"solver_order", std::int64_t{3}}};
  const Presets m3k{{"solver_order", std::int64_t{3}}, {"use_karras_sigmas", true}};
  const Presets sde{{"algorithm_type", std::string("sde-dpmsolver++")}};
  const Presets sdek{{"algorithm_type", std::string("sde-dpmsolver++")}, {"use_karras_sigmas", true}};
  const auto mx = multistep_extra();
  return {
      {"dpmpp_2m", {"DPM++ 2M", "DPMSolverMultistepScheduler"}, "DPM-Solver++(2M) (Lu et al. 2022)", multi, {},
       make_dpmpp_multistep, mx},
      {"dpmpp_2m_karras", {"DPM++ 2M Karras"}, "DPM-Solver++(2M) with Karras sigmas", multi, karras,
       make_dpmpp_multistep, mx},
      {"dpmpp_2m_exponential", {"DPM++ 2M Exponential"}, "DPM-Solver++(2M) with exponential sigmas", multi, expo,
       make_dpmpp_multistep, mx},
      {"dpmpp_2m_sgm_uniform", {"DPM++ 2M SGM Uniform"}, "DPM-Solver++(2M) with sgm_uniform sigmas", multi, sgm,
       make_dpmpp_multistep, mx},
      {"dpmpp_2m_beta", {"DPM++ 2M Beta"}, "DPM-Solver++(2M) with beta sigmas (Lee et al. 2024)", multi, beta,
       make_dpmpp_multistep, mx},
      {"dpmpp_2m_ays", {"DPM++ 2M AYS", "DPM++ 2M Align Your Steps", "Align Your Steps", "AYS"},
       "DPM-Solver++(2M) with the Align Your Steps SDXL sigmas", multi, ays, make_dpmpp_multistep, mx},
      {"dpmpp_3m", {"DPM++ 3M"}, "DPM-Solver++(3M), third-order multistep", multi, m3, make_dpmpp_multistep, mx},
      {"dpmpp_3m_karras", {"DPM++ 3M Karras"}, "DPM-Solver++(3M) with Karras sigmas", multi, m3k, make_dpmpp_multistep,
       mx},
      {"dpmpp_2m_sde", {"DPM++ 2M SDE"}, "SDE-DPM-Solver++(2M), midpoint", multi, sde, make_dpmpp_multistep, mx},
      {"dpmpp_2m_sde_karras", {"DPM++ 2M SDE Karras"}, "SDE-DPM-Solver++(2M) with Karras sigmas", multi, sdek,
       make_dpmpp_multistep, mx},
      {"dpmpp_2s", {"DPM++ 2S", "DPMSolverSinglestepScheduler"}, "DPM-Solver++(2S) singlestep", single, {},
       make_dpmpp_singlestep, {}},
      {"unipc", {"UniPC", "uni_pc_bh2", "UniPCMultistepScheduler"}, "UniPC predictor-corrector (Zhao et al. 2023), bh2",
       unipc, {}, make_unipc, {bh, lof}},
      {"unipc_karras", {"UniPC Karras"}, "UniPC with Karras sigmas", unipc, karras, make_unipc, {bh, lof}},
      {"deis", {"DEIS", "DEISMultistepScheduler"}, "DEIS multistep, logrho (Zhang & Chen 2023)", deis, {}, make_deis,
       {lof}},
      {"deis_karras", {"DEIS Karras"}, "DEIS with Karras sigmas", deis, karras, make_deis, {lof}},
  };
}

sdk::PluginInfo dpm_solver_plugin_info() {
  return scheduler_plugin_info("org.sdxl.schedulers.dpm_solver", "DPM-Solver family",
                               "DPM-Solver++ 2M/3M/SDE/2S, UniPC and DEIS (diffusers 0.30.3 semantics)");
}

}  // namespace sdxl::schedulers
