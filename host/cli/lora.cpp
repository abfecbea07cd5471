// `sdxl lora merge …` and `sdxl lora list …`: LoRA files without a running pipeline.
//   merge: component files (or a checkpoint) + LoRAs -> merged weights (float32 by default),
//          optionally compared with an expected file (the golden contract, tests/lora.cmake).
//   list:  every *.safetensors under the folders with its detected format, targets, rank and
//          metadata, and the unrecognised files with the reason.
#include <nlohmann/json.hpp>

#include <ATen/ATen.h>

#include <iostream>

#include "cli/startup.h"
#include "io/safetensors.h"
#include "lora/lora_inventory.h"
#include "lora/model_weights.h"
#include "lora/registry_formats.h"
#include "lora/weight_compare.h"
#include "models/loader/checkpoint.h"
#include "util/logging.h"

namespace sdxl::cli {
namespace {

constexpr const char* kMergeUsage =
    "usage: sdxl lora merge [--model CKPT [--model-config DIR] | --unet F --text-encoder F --text-encoder-2 F]\n"
    "                       --lora PATH[:MULT]... [--unet-multiplier X] [--text-encoder-multiplier X]\n"
    "                       [--dora-convention interpolate|lycoris] [--format NAME] [--skip-unknown-modules]\n"
    "                       [--dtype float32|float16|bfloat16]\n"
    "                       [--out FILE [--changed-only]] [--compare EXPECTED [--atol A] [--rtol R]] [--json]\n"
    "       sdxl lora list [--json] [DIR|FILE]...";

struct Failure {
  int code;
};

double parse_number(const std::string& s, const std::string& what) {
  try {
    std::size_t used = 0;
    double v = std::stod(s, &used);
    if (used == s.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  util::log_error("sdxl lora: " + what + " '" + s + "' is not a finite number");
  throw Failure{kExitUsage};
}

// "PATH[:MULT]" — the multiplier is the text after the last ':' when it parses as a number.
std::pair<std::string, double> split_lora_arg(const std::string& arg) {
  const auto colon = arg.rfind(':');
  if (colon != std::string::npos && colon + 1 < arg.size()) {
    try {
      std::size_t used = 0;
      const std::string tail = arg.substr(colon + 1);
      double m = std::stod(tail, &used);
      if (used == tail.size() && std::isfinite(m)) return {arg.substr(0, colon), m};
    } catch (const std::exception&) {
    }
  }
  return {arg, 1.0};
}

c10::ScalarType parse_dtype(const std::string& s) {
  if (s == "float32" || s == "fp32") return at::kFloat;
  if (s == "float16" || s == "fp16") return at::kHalf;
  if (s == "bfloat16" || s == "bf16") return at::kBFloat16;
  util::log_error("sdxl lora merge: --dtype must be float32, float16 or bfloat16, not '" + s + "'");
  throw Failure{kExitUsage};
}

void load_model(const Args& args, c10::ScalarType dtype, lora::WeightMap* weights) {
  if (auto model = args.get("model")) {
    // Every component present (views of the files), of which the LoRA targets are kept.
    models::loader::LoadOptions opts;
    if (auto cfg = args.get("model-config")) opts.model_config = *cfg;  // configs for single files
    auto ckpt = models::loader::load_checkpoint(*model, opts);
    if (!ckpt.ok()) {
      util::log_error(ckpt.status().message());
      throw Failure{kExitFailure};
    }
    for (const auto& [component, cw] : ckpt.value().components) {
      if (component != "unet" && component != "text_encoder" && component != "text_encoder_2") continue;
      for (const auto& [name, t] : cw.tensors) (*weights)[component + "." + name] = t.to(dtype, false, /*copy=*/true);
    }
  }
  for (const auto& [option, component] : std::vector<std::pair<std::string, std::string>>{
           {"unet", "unet"}, {"text-encoder", "text_encoder"}, {"text-encoder-2", "text_encoder_2"}}) {
    if (auto file = args.get(option)) {
      if (auto st = lora::add_component_file(*file, component, dtype, weights); !st.ok()) {
        util::log_error(st.message());
        throw Failure{kExitFailure};
      }
    }
  }
  if (weights->empty()) {
    util::log_error("sdxl lora merge: give --model or at least one of --unet/--text-encoder/--text-encoder-2\n" +
                    std::string(kMergeUsage));
    throw Failure{kExitUsage};
  }
}

int run_merge(Args& args, const GlobalOptions& global) {
  lora::WeightMap weights;
  const c10::ScalarType dtype = parse_dtype(args.get_or("dtype", "float32"));
  lora::ComponentMultipliers components;
  components.unet = parse_number(args.get_or("unet-multiplier", "1"), "--unet-multiplier");
  components.text_encoder = parse_number(args.get_or("text-encoder-multiplier", "1"), "--text-encoder-multiplier");
  const auto lora_args = args.get_all("lora");
  if (lora_args.empty()) {
    util::log_error(std::string("sdxl lora merge: at least one --lora PATH[:MULT] is needed\n") + kMergeUsage);
    return kExitUsage;
  }
  sdk::Options overrides;
  if (auto dora = args.get("dora-convention")) {
    if (*dora != "interpolate" && *dora != "lycoris") {
      util::log_error("sdxl lora merge: --dora-convention must be interpolate or lycoris, not '" + *dora + "'");
      return kExitUsage;
    }
    overrides.set("dora_convention", *dora);
  }
  // Groups for components that are not loaded (e.g. TE groups when only --unet is given) or for
  // modules this model lacks: skipped with a warning instead of refusing the file.
  if (args.has("skip-unknown-modules")) overrides.set("unknown_modules", std::string("warn"));
  auto app = start_app(global);
  if (!app) return kExitUsage;
  auto formats = lora::formats_from_registry(*app->registry, overrides);
  if (!formats.ok()) {
    util::log_error(formats.status().message());
    return kExitUsage;
  }
  load_model(args, dtype, &weights);
  const lora::ModuleTable table = lora::ModuleTable::from_params(lora::param_shapes(weights));
  lora::LoraLibrary library(std::move(formats).value());

  nlohmann::json report = {{"loras", nlohmann::json::array()}, {"modules", table.module_count()}};
  std::vector<lora::LoraApplication> stack;
  for (const auto& arg : lora_args) {
    auto [path, multiplier] = split_lora_arg(arg);
    auto loaded = library.load(path, table, args.get_or("format", ""));
    if (!loaded.ok()) {
      util::log_error("sdxl lora merge: " + loaded.status().message());
      return kExitFailure;
    }
    const auto& l = *loaded.value();
    for (const auto& w : l.parse.warnings) util::log_warn(path + ": " + w);
    util::log_info(path + ": " + l.format + " (" + l.detection.reason + "), " + std::to_string(l.parse.patches.size()) +
                   " patches, multiplier " + std::to_string(multiplier));
    report["loras"].push_back({{"path", path}, {"multiplier", multiplier}, {"format", l.format},
                               {"confidence", l.detection.confidence}, {"reason", l.detection.reason},
                               {"patches", l.parse.patches.size()}, {"warnings", l.parse.warnings}});
    stack.push_back({loaded.value(), multiplier});
  }
  lora::MergeEngine engine(&weights);
  auto stats = engine.merge(stack, components);
  if (!stats.ok()) {
    util::log_error("sdxl lora merge: " + stats.status().message());
    return kExitFailure;
  }
  report["parameters_changed"] = stats.value().parameters_changed;
  report["patches_applied"] = stats.value().patches_applied;
  report["backup_bytes"] = stats.value().backup_bytes;
  int rc = kExitOk;
  if (auto expected_path = args.get("compare")) {
    auto expected = io::SafetensorsFile::open(*expected_path);
    if (!expected.ok()) {
      util::log_error(expected.status().message());
      return kExitFailure;
    }
    auto tensors = expected.value()->all_tensors();
    if (!tensors.ok()) {
      util::log_error(tensors.status().message());
      return kExitFailure;
    }
    const auto cmp = lora::compare_merge(weights, tensors.value(), engine, parse_number(args.get_or("atol", "1e-5"), "--atol"),
                                         parse_number(args.get_or("rtol", "1e-4"), "--rtol"));
    report["compare"] = {{"passed", cmp.passed}, {"compared", cmp.compared}, {"worst_abs_error", cmp.worst_abs_error},
                         {"worst_key", cmp.worst_key}, {"failures", cmp.failures}};
    (cmp.passed ? std::cout : std::cerr) << "compare " << *expected_path << ": " << cmp.summary() << "\n";
    if (!cmp.passed) rc = kExitFailure;
  }
  if (auto out = args.get("out")) {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    if (args.has("changed-only")) {
      for (const auto& name : engine.changed_parameters()) tensors.emplace_back(name, weights.at(name));
    } else {
      for (const auto& kv : weights) tensors.emplace_back(kv.first, kv.second);
    }
    nlohmann::json inputs = nlohmann::json::array();
    for (const auto& l : report["loras"]) inputs.push_back({{"path", l["path"]}, {"multiplier", l["multiplier"]}});
    if (auto st = io::write_safetensors(*out, tensors, {{"format", "pt"}, {"sdxl.lora_merge", inputs.dump()}}); !st.ok()) {
      util::log_error(st.message());
      return kExitFailure;
    }
    report["out"] = *out;
    util::log_info("wrote " + std::to_string(tensors.size()) + " tensors to " + *out);
  }
  if (args.has("json")) std::cout << report.dump(2) << "\n";
  return rc;
}

int run_list(Args& args, const GlobalOptions& global) {
  auto app = start_app(global);
  if (!app) return kExitUsage;
  auto formats = lora::formats_from_registry(*app->registry);
  if (!formats.ok()) {
    util::log_error(formats.status().message());
    return kExitUsage;
  }
  lora::LoraLibrary library(std::move(formats).value());
  std::vector<std::string> roots(args.positionals().begin() + 1, args.positionals().end());
  if (roots.empty()) roots.push_back(".");
  std::vector<lora::InventoryEntry> entries;
  for (const auto& root : roots) {
    auto found = lora::inventory(root, library);
    if (!found.ok()) {
      util::log_error("sdxl lora list: " + found.status().message());
      return kExitFailure;
    }
    entries.insert(entries.end(), found.value().begin(), found.value().end());
  }
  if (args.has("json")) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : entries) j.push_back(lora::to_json(e));
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& e : entries) std::cout << lora::to_text(e);
  }
  return kExitOk;
}

int run_lora(Args& args, const GlobalOptions& global) {
  for (const char* f : {"json", "changed-only", "skip-unknown-modules"}) args.flag(f);
  for (const char* o : {"model", "model-config", "unet", "text-encoder", "text-encoder-2", "lora", "unet-multiplier",
                        "text-encoder-multiplier", "dora-convention", "format", "dtype", "out", "compare", "atol", "rtol"})
    args.option(o);
  if (!parse_or_complain(args, "lora")) return kExitUsage;
  const std::string sub = args.positionals().empty() ? "" : args.positionals()[0];
  try {
    if (sub == "merge") {
      if (args.positionals().size() > 1) {
        util::log_error("sdxl lora merge: unexpected argument '" + args.positionals()[1] + "'\n" + kMergeUsage);
        return kExitUsage;
      }
      return run_merge(args, global);
    }
    if (sub == "list") return run_list(args, global);
  } catch (const Failure& f) {
    return f.code;
  }
  std::cerr << kMergeUsage << "\n";
  return kExitUsage;
}

}  // namespace

SDXL_REGISTER_COMMAND(Command{
    "lora", "merge LoRA files into model weights, list LoRA files",
    std::string(kMergeUsage) +
        "\n\n"
        "merge: loads the model (a checkpoint with --model, or component safetensors files with diffusers\n"
        "names), upcasts to --dtype (default float32), applies every --lora in order with its multiplier\n"
        "(default 1; negative allowed) times the component multiplier, and writes --out as one safetensors\n"
        "file keyed unet.<param>, text_encoder.<param>, text_encoder_2.<param> (all tensors, or only the\n"
        "changed ones with --changed-only). --compare checks an expected file: its tensors within\n"
        "atol + rtol*|expected| (default 1e-5, 1e-4), every other tensor bit-identical. A broken or\n"
        "unrecognised LoRA is an error naming the file and key group; nothing is written then.\n"
        "--format forces a lora_format feature (see `sdxl plugins`); --dora-convention picks how the\n"
        "multiplier acts on DoRA groups (interpolate: A1111/ComfyUI; lycoris: LyCORIS). Key groups naming no\n"
        "module of the loaded model are an error unless --skip-unknown-modules (then a warning each).\n\n"
        "list: every *.safetensors under each DIR (default .) with its detected format, targets, rank,\n"
        "base model and trigger words from the metadata; unrecognised files with the reason.",
    run_lora})

}  // namespace sdxl::cli
