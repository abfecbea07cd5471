// Feature table of the DDIM-family plugin.
#include "ddim_family.h"

namespace sdxl::schedulers {

std::vector<FeatureDef> ddim_family_features() {
  SchemaTraits ddim;
  ddim.has_eta = true;
  ddim.has_set_alpha_to_one = true;
  SchemaTraits plain;
  SchemaTraits pndm;
  pndm.has_set_alpha_to_one = true;
  SchemaTraits lcm;
  lcm.has_spacing = false;
  lcm.has_original_steps = true;
  lcm.has_set_alpha_to_one = true;
  SchemaTraits tcd = lcm;
  tcd.has_eta = true;
  tcd.eta_default = 0.3;
  return {
      {"ddim", {"DDIM", "DDIMScheduler"}, "denoising diffusion implicit models (Song et al. 2021), eta = stochasticity",
       ddim, {}, make_ddim},
      {"ddim_trailing", {"DDIM Trailing"}, "DDIM with trailing timestep spacing (zero-terminal-SNR style)", ddim,
       {{"timestep_spacing", std::string("trailing")}}, make_ddim},
      {"ddpm", {"DDPM", "DDPMScheduler"}, "ancestral DDPM sampling (Ho et al. 2020), fixed_small variance", plain, {},
       make_ddpm},
      {"pndm", {"PLMS", "plms", "PNDM", "PNDMScheduler"}, "pseudo linear multistep (Liu et al. 2022), PLMS only", pndm,
       {}, make_pndm},
      {"lcm", {"LCM", "LCMScheduler"}, "latent consistency model multistep sampling (Luo et al. 2023)", lcm, {},
       make_lcm},
      {"tcd", {"TCD", "TCDScheduler"}, "trajectory consistency distillation sampling (Zheng et al. 2024), eta = gamma",
       tcd, {}, make_tcd},
  };
}

sdk::PluginInfo ddim_family_plugin_info() {
  return scheduler_plugin_info("org.sdxl.schedulers.ddim_family", "DDIM-family samplers",
                               "DDIM, DDPM, PLMS, LCM and TCD on integer timesteps (diffusers 0.30.3 semantics)");
}

}  // namespace sdxl::schedulers
