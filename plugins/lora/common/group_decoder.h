#pragma once
// Turns one key group (all tensors of one module, suffixes in kohya/LyCORIS spelling) into
// WeightPatch objects: picks the algorithm from the suffixes, validates every factor against the
// target module, checks for non-finite values, derives the scale alpha / rank, attaches DoRA.
// Both LoRA plugins feed it; the diffusers plugin renames its suffixes first
// (lora_A.weight -> lora_down.weight, lora_B.weight -> lora_up.weight, ...).

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sdxl/sdk/lora_format.h"
#include "sdxl/sdk/lora_low_rank.h"
#include "sdxl/sdk/options.h"
#include "weight_delta.h"

namespace sdxl::lora {

/// How the user's multiplier m acts on a DoRA group (README "DoRA"):
/// interpolate (A1111/Forge/ComfyUI): W' = W + m (Wd - W);  lycoris: W' = Wf (1 + m (s/n - 1)).
enum class DoraConvention { interpolate, lycoris };

struct GroupTensors {
  std::string group;                        ///< the group as spelled in the file, for messages
  std::map<std::string, at::Tensor> parts;  ///< kohya-spelled suffix ("lora_up.weight", "alpha"…) -> tensor
};

/// True for every suffix decode_group understands.
bool is_known_suffix(const std::string& suffix);
/// The algorithm a suffix belongs to; nullopt for modifiers (alpha, dora_scale) and unknown ones.
std::optional<Algorithm> algorithm_of_suffix(const std::string& suffix);

/// Appends the patches of one group for `module` to `out` (a weight patch, and a bias patch for
/// diff_b). Nothing is appended when it fails; the Status names the group and the problem.
sdk::Status decode_group(const GroupTensors& group, const sdk::ModuleInfo& module, DoraConvention dora,
                         std::vector<std::unique_ptr<sdk::WeightPatch>>* out);

/// The end of every format's parse, once the file's keys are grouped: resolves each group to a
/// module (`resolve` may try other spellings), reports the groups naming no module together with
/// `unresolved` (keys the format did not recognise) in one warning — or as a not_found error when
/// `unknown_are_errors` — listing at most 8 names (`annotate` may add a hint to each), decodes every
/// resolved group into `result`'s patches, and refuses a file that patches nothing.
/// `what`: how the unresolved names are described ("key group(s) name no module of this model").
sdk::Result<sdk::LoraParse> finish_parse(const std::string& path, const std::map<std::string, GroupTensors>& groups,
                                         const std::function<std::optional<sdk::ModuleInfo>(const std::string&)>& resolve,
                                         std::vector<std::string> unresolved, const std::string& what,
                                         const std::function<std::string(const std::string&)>& annotate,
                                         bool unknown_are_errors, DoraConvention dora, sdk::LoraParse result);

/// LoraFormat::extension() of every LoRA feature: SDXL_LORA_LOW_RANK_EXTENSION answers a
/// LowRankAccess that reads the factors of the patches decode_group made; other ids nullptr.
void* lora_format_extension(const char* id);

// ---- options shared by every LoRA feature -------------------------------------------------------

/// The option schema every lora_format feature publishes (dora_convention, unknown_modules).
std::vector<sdk::OptionSpec> common_lora_options();

struct CommonSettings {
  DoraConvention dora = DoraConvention::interpolate;
  bool unknown_modules_are_errors = true;
};
CommonSettings read_common_settings(const sdk::Options& options);

}  // namespace sdxl::lora
