// /metrics in Prometheus' text exposition format: queue length, jobs by state, HTTP replies,
// the memory ledger per device, then whatever the orchestrator and the arbiter report.
#include <cctype>
#include <sstream>

#include "memory/ledger.h"
#include "server/http_routes.h"

namespace sdxl::server {
namespace {

// Metric names allow [a-zA-Z0-9_:]; anything else becomes '_'.
std::string metric_name(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return out;
}

std::string label_value(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void family(std::ostringstream& os, const std::string& name, const char* type, const std::string& help) {
  os << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

// Every numeric (or boolean) leaf of `j` as an untyped sample named by its path; arrays are
// skipped (their lengths change meaning between versions).
void flatten(std::ostringstream& os, const std::string& prefix, const nlohmann::json& j) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) flatten(os, prefix + "_" + metric_name(it.key()), it.value());
  } else if (j.is_number_unsigned()) {
    os << prefix << " " << j.get<std::uint64_t>() << "\n";
  } else if (j.is_number_integer()) {
    os << prefix << " " << j.get<std::int64_t>() << "\n";
  } else if (j.is_number()) {
    os << prefix << " " << j.dump() << "\n";
  } else if (j.is_boolean()) {
    os << prefix << " " << (j.get<bool>() ? 1 : 0) << "\n";
  }
}

}  // namespace

std::string prometheus_text(HttpServer::Impl& impl) {
  std::ostringstream os;
  Orchestrator& orch = impl.orch();
  const auto active = orch.active_jobs();
  const auto running = orch.running_job();
  std::int64_t queued = 0, running_count = 0;
  for (const auto& id : active) {
    if (auto s = orch.snapshot(id)) (s->state == JobState::running ? running_count : queued) += 1;
  }
  (void)running;
  family(os, "sdxl_queue_length", "gauge", "Jobs waiting to run.");
  os << "sdxl_queue_length " << queued << "\n";
  family(os, "sdxl_jobs_running", "gauge", "Jobs being denoised now.");
  os << "sdxl_jobs_running " << running_count << "\n";

  family(os, "sdxl_http_responses_total", "counter", "HTTP responses by status class.");
  os << "sdxl_http_responses_total{class=\"2xx\"} " << impl.count_2xx.load() << "\n"
     << "sdxl_http_responses_total{class=\"4xx\"} " << impl.count_4xx.load() << "\n"
     << "sdxl_http_responses_total{class=\"5xx\"} " << impl.count_5xx.load() << "\n";

  const auto accounts = memory::process_ledger().accounts();
  family(os, "sdxl_ledger_used_bytes", "gauge", "Bytes the memory ledger accounts per device.");
  for (const auto& [device, a] : accounts) os << "sdxl_ledger_used_bytes{device=\"" << label_value(device) << "\"} " << a.used << "\n";
  family(os, "sdxl_ledger_peak_bytes", "gauge", "Highest accounted bytes per device since start.");
  for (const auto& [device, a] : accounts) os << "sdxl_ledger_peak_bytes{device=\"" << label_value(device) << "\"} " << a.peak << "\n";
  family(os, "sdxl_ledger_budget_bytes", "gauge", "Budget per device (0: unlimited).");
  for (const auto& [device, a] : accounts) os << "sdxl_ledger_budget_bytes{device=\"" << label_value(device) << "\"} " << a.budget << "\n";

  // Jobs by state: the orchestrator's jobs_<state> counters as one labelled family.
  const nlohmann::json stats = orch.stats_json();
  family(os, "sdxl_jobs_total", "counter", "Jobs by outcome since start (submitted, rejected, done, failed, cancelled).");
  for (auto it = stats.begin(); it != stats.end(); ++it)
    if (it.key().rfind("jobs_", 0) == 0 && it.value().is_number_integer())
      os << "sdxl_jobs_total{state=\"" << label_value(it.key().substr(5)) << "\"} " << it.value().get<std::int64_t>() << "\n";
  // Everything else the orchestrator counts (batches, model loads…), one sample per numeric field.
  flatten(os, "sdxl_orchestrator", stats);
  if (impl.ctx.memory_prometheus) os << impl.ctx.memory_prometheus();
  return os.str();
}

}  // namespace sdxl::server
