#pragma once
// Golden-case replay: the contract the reference values in ../shared/golden are checked with.
//
// A case is a safetensors file plus a manifest (its __metadata__["manifest"] or the sidecar
// CASE.json). A GoldenHandler recognises the cases of one kind (scheduler trajectories, text
// encoders, UNet, VAE, tokenizer, pipelines…), replays them with the project's own code using
// ONLY the inputs it declares allowed, and compares what it produced with the expected tensors.
// `sdxl golden replay|check` (host/cli/golden.cpp) drives them; `check` replays every case from
// a copy stripped down to the allowed inputs, so a dependence on an expected value fails.
//
// Handlers register themselves from host/cli/golden_<area>.cpp with SDXL_REGISTER_GOLDEN_HANDLER.

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "sdxl/sdk/status.h"

namespace sdxl::plugins {
class PluginRegistry;
}

namespace sdxl::golden {

/// One case as read from disk.
struct GoldenCase {
  std::filesystem::path file;  ///< CASE.safetensors (or CASE.json for JSON-only cases like tokenizer.json)
  nlohmann::json manifest;     ///< the manifest (sidecar JSON or __metadata__["manifest"])
  std::shared_ptr<io::SafetensorsFile> tensors;  ///< null for JSON-only cases
  /// Folder of the original case. A stripped copy lives in a temporary folder, so handlers that
  /// look for files beside the case (controlnet-tiny/, taesdxl-random/) use this instead.
  std::filesystem::path source_dir;
};

/// Options of `sdxl golden replay` that handlers may use.
struct GoldenOptions {
  std::string model;         ///< --model: diffusers folder or single-file checkpoint
  std::string model_config;  ///< --model-config: diffusers folder supplying configs/tokenizers
  std::string controlnet;    ///< --controlnet (default: controlnet-tiny/ beside the case folder)
  std::string taesd;         ///< --taesd (default: taesdxl-random/ beside the case folder)
  std::string clip_vocab;    ///< bpe_simple_vocab_16e6.txt.gz for single-file checkpoints
  /// Loaded plugins (the CLI passes its registry); handlers that run plugin features need it.
  const plugins::PluginRegistry* registry = nullptr;
  /// Where the replay computes, and in what precision the networks run (handlers whose
  /// runs_in_dtype() is true; the others compute in float32). The runner brings the outputs back
  /// to the CPU. Default: float32 on the CPU, where the tolerances were set.
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::kFloat;
  /// The UNet (and the controlnet case's ControlNet) computes channels-last
  /// (UNet2DConditionModel::use_channels_last): the same sums in NHWC memory order, checked
  /// against the same tolerances.
  bool channels_last = false;
  /// The UNet's (and the ControlNet's) self-attentions compute q/k/v in one product
  /// (UNet2DConditionModel::stack_self_attention_projections), against the same tolerances.
  bool fused_qkv = false;
};

/// Outputs a replay produced, in the order it produced them.
using TensorList = std::vector<std::pair<std::string, at::Tensor>>;

struct CompareReport {
  bool passed = false;
  std::string summary;  ///< one line: worst deviation and where, or what is missing
};

class GoldenHandler {
 public:
  virtual ~GoldenHandler() = default;
  virtual std::string name() const = 0;
  /// True when this handler owns the case (decided from the manifest / file name).
  virtual bool accepts(const GoldenCase& c) const = 0;
  /// Manifest keys and tensor names the replay may read; `check` strips everything else.
  virtual std::set<std::string> allowed_manifest_keys(const GoldenCase& c) const = 0;
  virtual std::set<std::string> allowed_tensors(const GoldenCase& c) const = 0;
  /// Runs the case with the project's own code. For JSON-only cases the handler may return an
  /// empty TensorList and put its JSON result in `json_out`.
  virtual sdk::Result<TensorList> replay(const GoldenCase& c, const GoldenOptions& opts,
                                         nlohmann::json* json_out) const = 0;
  /// True when the replay runs networks in GoldenOptions::dtype. Outside float32 the runner then
  /// compares with golden/precision_compare.h instead of compare(), whose tolerances are for
  /// float32. False (schedulers, tokenizer): the replay computes in float32 whatever the dtype.
  virtual bool runs_in_dtype() const { return false; }
  /// Outputs a replay must produce for the case to pass (checked by the reduced-precision
  /// comparison; compare() checks its own). Default: every tensor the manifest lists as "output".
  virtual std::set<std::string> required_outputs(const GoldenCase& full) const;
  /// Multiplies the dtype's relative RMS bound for this handler's outputs. 1 for one network
  /// call; more where outputs feed back (a denoising loop compounds each step's rounding).
  virtual double reduced_precision_slack() const { return 1.0; }
  /// Compares a replay's outputs with the expected values in the full (unstripped) case.
  virtual CompareReport compare(const GoldenCase& full, const TensorList& produced,
                                const nlohmann::json& json_out) const = 0;
};

std::vector<std::unique_ptr<GoldenHandler>>& golden_handlers();

struct GoldenHandlerRegistrar {
  explicit GoldenHandlerRegistrar(std::unique_ptr<GoldenHandler> h) { golden_handlers().push_back(std::move(h)); }
};

}  // namespace sdxl::golden

#define SDXL_GOLDEN_CONCAT_IMPL(a, b) a##b
#define SDXL_GOLDEN_CONCAT(a, b) SDXL_GOLDEN_CONCAT_IMPL(a, b)
#define SDXL_REGISTER_GOLDEN_HANDLER(Type)                                           \
  static ::sdxl::golden::GoldenHandlerRegistrar SDXL_GOLDEN_CONCAT(sdxl_golden_reg_, \
                                                                    __LINE__){std::make_unique<Type>()};
