#include "golden/runner.h"

#include "golden/case_files.h"
#include "golden/precision_compare.h"

namespace sdxl::golden {

std::vector<std::unique_ptr<GoldenHandler>>& golden_handlers() {
  static std::vector<std::unique_ptr<GoldenHandler>> all;
  return all;
}

std::set<std::string> GoldenHandler::required_outputs(const GoldenCase& full) const {
  return manifest_tensors_with_role(full.manifest, "output");
}

const GoldenHandler* find_handler(const GoldenCase& c) {
  for (const auto& h : golden_handlers())
    if (h->accepts(c)) return h.get();
  return nullptr;
}

CaseOutcome run_case(const GoldenCase& full, const GoldenHandler& h, const GoldenOptions& opts, bool keep_outputs) {
  CaseOutcome o;
  o.name = case_name(full);
  o.handler = h.name();
  try {
    TempDir tmp;
    auto stripped = strip_case(full, h.allowed_manifest_keys(full), h.allowed_tensors(full), tmp.path());
    if (!stripped.ok()) {
      o.summary = "could not strip the case: " + stripped.status().message();
      return o;
    }
    auto produced = h.replay(stripped.value(), opts, &o.json_out);
    if (!produced.ok()) {
      o.summary = "replay failed: " + produced.status().message();
      return o;
    }
    for (auto& [name, t] : produced.value())
      if (t.defined()) t = t.cpu();
    const bool reduced_precision = opts.dtype != c10::kFloat && h.runs_in_dtype();
    auto report = reduced_precision ? compare_relative_rms(full, produced.value(), opts.dtype, h.required_outputs(full),
                                                           h.reduced_precision_slack())
                                    : h.compare(full, produced.value(), o.json_out);
    o.passed = report.passed;
    o.summary = report.summary;
    if (keep_outputs) o.produced = std::move(produced.value());
  } catch (const std::exception& e) {
    o.passed = false;
    o.summary = std::string("unexpected error: ") + e.what();
  }
  return o;
}

}  // namespace sdxl::golden
