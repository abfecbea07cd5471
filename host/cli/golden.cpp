// `sdxl golden replay|check`: replays reference cases (../shared/golden/<area>) with the
// project's own code through the golden handlers (host/golden/golden_case.h), each from a copy
// stripped to the inputs the handler declares, and compares with the expected tensors.
#include <filesystem>
#include <iostream>
#include <map>

#include <ATen/Context.h>

#include "cli/startup.h"
#include "golden/case_files.h"
#include "golden/runner.h"
#include "pipeline/sdxl_model.h"

namespace sdxl::cli {
namespace {

namespace fs = std::filesystem;

const char* const kPathOptions[] = {"model", "model-config", "controlnet", "taesd", "clip-vocab"};

void declare_options(Args& args) {
  for (const char* o : kPathOptions) args.option(o);
  args.option("device");
  args.option("dtype");
}

/// Sets one GoldenOptions field by its CLI name; false for an unknown name.
bool set_option(golden::GoldenOptions& o, const std::string& key, const std::string& value) {
  if (key == "model") o.model = value;
  else if (key == "model-config") o.model_config = value;
  else if (key == "controlnet") o.controlnet = value;
  else if (key == "taesd") o.taesd = value;
  else if (key == "clip-vocab") o.clip_vocab = value;
  else return false;
  return true;
}

/// --device cpu|cuda and --dtype float32|bfloat16|float16 (default: float32 on the CPU, where the
/// reference tolerances hold). Outside float32 the runner compares by relative RMS error.
std::optional<golden::GoldenOptions> options_from(const Args& args) {
  golden::GoldenOptions o;
  for (const char* k : kPathOptions)
    if (auto v = args.get(k)) set_option(o, k, *v);
  pipeline::ModelSpec placement;
  if (auto st = pipeline::resolve_device_and_dtype(args.get_or("device", "cpu"), args.get_or("dtype", "float32"),
                                                   "--device", "--dtype", placement);
      !st.ok()) {
    std::cerr << "sdxl golden: " << st.message() << "\n";
    return std::nullopt;
  }
  o.device = placement.device;
  o.dtype = placement.dtype;
  if (o.device.is_cuda()) {
    // TF32 would give float32 matmuls and convolutions 10-bit mantissas: off for the comparison.
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
  }
  return o;
}

int run_replay(Args& args, const GlobalOptions& global) {
  declare_options(args);
  args.option("out");
  if (!parse_or_complain(args, "golden")) return kExitUsage;
  if (args.positionals().size() != 2) {
    std::cerr << "usage: sdxl golden replay CASE.safetensors [--out RESULT.safetensors] [--model M] ...\n";
    return kExitUsage;
  }
  const fs::path file = args.positionals()[1];
  auto c = golden::load_case(file);
  if (!c.ok()) {
    std::cerr << "sdxl golden replay: " << c.status().message() << "\n";
    return kExitUsage;
  }
  const auto* h = golden::find_handler(c.value());
  if (!h) {
    std::cerr << "sdxl golden replay: no handler accepts " << file.string() << "\n";
    return kExitUsage;
  }
  auto parsed = options_from(args);
  if (!parsed) return kExitUsage;
  auto app = start_app(global);
  if (!app) return kExitUsage;
  auto opts = *parsed;
  opts.registry = app->registry.get();
  const auto out = args.get("out");
  if (out) {
    golden::TempDir tmp;
    auto stripped = golden::strip_case(c.value(), h->allowed_manifest_keys(c.value()), h->allowed_tensors(c.value()),
                                       tmp.path());
    if (!stripped.ok()) {
      std::cerr << "sdxl golden replay: " << stripped.status().message() << "\n";
      return kExitFailure;
    }
    nlohmann::json json_out;
    auto produced = h->replay(stripped.value(), opts, &json_out);
    if (!produced.ok()) {
      std::cerr << "sdxl golden replay: " << produced.status().message() << "\n";
      return kExitFailure;
    }
    if (auto st = golden::write_result(*out, c.value(), produced.value(), json_out); !st.ok()) {
      std::cerr << "sdxl golden replay: " << st.message() << "\n";
      return kExitFailure;
    }
    std::cout << "wrote " << produced.value().size() << " tensors to " << *out << "\n";
    return kExitOk;
  }
  auto outcome = golden::run_case(c.value(), *h, opts, false);
  // Flushed: should the process die on its way out, the verdict is already written.
  std::cout << (outcome.passed ? "PASS " : "FAIL ") << outcome.name << " [" << outcome.handler << "] "
            << outcome.summary << std::endl;
  return outcome.passed ? kExitOk : kExitFailure;
}

/// --defaults FOLDER:key=value — per-folder options; FOLDER is the folder's name or path.
bool parse_defaults(const Args& args, std::map<std::string, std::map<std::string, std::string>>& out) {
  for (const auto& d : args.get_all("defaults")) {
    const auto colon = d.find(':');
    const auto eq = d.find('=', colon == std::string::npos ? 0 : colon);
    if (colon == std::string::npos || eq == std::string::npos) {
      std::cerr << "sdxl golden check: --defaults wants FOLDER:key=value, got '" << d << "'\n";
      return false;
    }
    golden::GoldenOptions probe;
    const std::string key = d.substr(colon + 1, eq - colon - 1);
    if (!set_option(probe, key, "")) {
      std::cerr << "sdxl golden check: --defaults key '" << key
                << "' is not one of model, model-config, controlnet, taesd, clip-vocab\n";
      return false;
    }
    out[d.substr(0, colon)][key] = d.substr(eq + 1);
  }
  return true;
}

int run_check(Args& args, const GlobalOptions& global) {
  declare_options(args);
  args.option("defaults");
  args.flag("verbose");
  if (!parse_or_complain(args, "golden")) return kExitUsage;
  if (args.positionals().size() < 2) {
    std::cerr << "usage: sdxl golden check DIR... [--model M] [--defaults FOLDER:key=value]...\n";
    return kExitUsage;
  }
  std::map<std::string, std::map<std::string, std::string>> per_folder;
  if (!parse_defaults(args, per_folder)) return kExitUsage;
  for (std::size_t i = 1; i < args.positionals().size(); ++i) {
    if (!fs::is_directory(args.positionals()[i])) {
      std::cerr << "sdxl golden check: not a folder: " << args.positionals()[i] << "\n";
      return kExitUsage;
    }
  }
  const auto parsed = options_from(args);
  if (!parsed) return kExitUsage;
  auto app = start_app(global);
  if (!app) return kExitUsage;
  int passed = 0, failed = 0;
  for (std::size_t i = 1; i < args.positionals().size(); ++i) {
    const fs::path dir = args.positionals()[i];
    auto opts = *parsed;
    opts.registry = app->registry.get();
    for (const auto& key : {dir.string(), fs::path(dir).lexically_normal().filename().string(),
                            dir.filename().string()}) {
      auto it = per_folder.find(key);
      if (it == per_folder.end()) continue;
      for (const auto& [k, v] : it->second) set_option(opts, k, v);
    }
    for (const auto& file : golden::list_case_files(dir)) {
      auto c = golden::load_case(file);
      if (!c.ok()) {
        if (args.has("verbose")) std::cout << "skip " << file.string() << ": " << c.status().message() << "\n";
        continue;
      }
      const auto* h = golden::find_handler(c.value());
      if (!h) {
        if (args.has("verbose")) std::cout << "skip " << file.string() << ": no handler\n";
        continue;
      }
      // Flushed before the run: if a case takes the process down, the last line names it.
      if (args.has("verbose")) std::cout << "run " << file.string() << std::endl;
      auto outcome = golden::run_case(c.value(), *h, opts, false);
      (outcome.passed ? passed : failed)++;
      std::cout << (outcome.passed ? "PASS " : "FAIL ") << outcome.name << " [" << outcome.handler << "] "
                << outcome.summary << std::endl;
    }
  }
  std::cout << passed << " passed, " << failed << " failed" << std::endl;
  return failed == 0 ? kExitOk : kExitFailure;
}

int run_golden(Args& args, const GlobalOptions& global) {
  // The sub-command is the first positional; parse() runs inside the sub-command.
  Args peek = args;
  peek.flag("verbose");
  for (const char* o : kPathOptions) peek.option(o);
  peek.option("out");
  peek.option("defaults");
  peek.option("device");
  peek.option("dtype");
  peek.parse();
  const std::string sub = peek.positionals().empty() ? "" : peek.positionals()[0];
  if (sub == "replay") return run_replay(args, global);
  if (sub == "check") return run_check(args, global);
  std::cerr << "usage: sdxl golden replay CASE [--out RESULT] [options] | sdxl golden check DIR... [options]\n";
  return kExitUsage;
}

}  // namespace

SDXL_REGISTER_COMMAND(Command{
    "golden", "replay reference cases (../shared/golden) and compare",
    "usage: sdxl golden replay CASE.safetensors [--out RESULT.safetensors] [--model M] [--model-config DIR]\n"
    "                          [--controlnet C] [--taesd T] [--clip-vocab V]\n"
    "                          [--device cpu|cuda] [--dtype float32|bfloat16|float16]\n"
    "       sdxl golden check DIR... [same options] [--defaults FOLDER:key=value]... [--verbose]\n\n"
    "replay: runs one case with the project's code from a copy stripped to its allowed inputs.\n"
    "  With --out, writes the produced tensors; without, compares them with the case's expected\n"
    "  values, prints the worst deviation and exits 0 iff it passes.\n"
    "check: replays every case in the folders that some handler accepts, one line per case, and\n"
    "  ends with `N passed, M failed`; exit 0 iff M = 0. --defaults sets an option for one folder\n"
    "  (by name or path), e.g. --defaults models:model=/data/sdxl-tiny.\n"
    "--device/--dtype: where the networks run (default cpu, float32). CUDA float32 runs with TF32\n"
    "  off and the same tolerances; bfloat16/float16 compare each output by relative RMS error\n"
    "  against a bound per dtype (docs/golden.md). Schedulers compute in float32 on the device.",
    run_golden})

}  // namespace sdxl::cli
