// `sdxl status`: asks a running server how it is doing (/healthz and /v1/stats): queue, jobs by
// state, HTTP replies and memory (arbiter and ledger).
#include <httplib.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/startup.h"
#include "server/http_config.h"
#include "util/logging.h"

namespace sdxl::cli {
namespace {

void print_human(const nlohmann::json& health, const nlohmann::json& stats) {
  std::cout << "server: " << health.value("status", "?") << "\n";
  if (stats.contains("orchestrator")) std::cout << "orchestrator: " << stats["orchestrator"].dump(2) << "\n";
  if (stats.contains("http")) std::cout << "http replies: " << stats["http"].dump() << "\n";
  if (stats.contains("ledger")) std::cout << "memory ledger: " << stats["ledger"].dump(2) << "\n";
  if (stats.contains("memory")) std::cout << "memory arbiter: " << stats["memory"].dump(2) << "\n";
}

int run_status(Args& args, const GlobalOptions& global) {
  args.option("url");
  args.option("api-key");
  args.option("config");
  args.flag("json");
  if (!parse_or_complain(args, "status")) return kExitUsage;
  std::string url = args.get_or("url", "");
  std::string key = args.get_or("api-key", "");
  if (url.empty() || key.empty()) {  // from [server] in the configuration
    GlobalOptions g = global;
    if (auto c = args.get("config")) g.config_path = *c;
    auto app = start_app(g, /*load_plugins=*/false);
    if (!app) return kExitUsage;
    auto s = server::server_settings(app->config);
    if (!s.ok()) return util::log_error(s.status().message()), kExitUsage;
    const std::string host = s.value().http.host == "0.0.0.0" ? "127.0.0.1" : s.value().http.host;
    if (url.empty()) url = "http://" + host + ":" + std::to_string(s.value().http.port);
    if (key.empty()) key = s.value().http.api_key;
  }
  httplib::Client client(url);
  if (!client.is_valid()) return util::log_error("--url: cannot use '" + url + "'"), kExitUsage;
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  httplib::Headers headers;
  if (!key.empty()) headers.emplace("Authorization", "Bearer " + key);
  auto health = client.Get("/healthz", headers);
  if (!health) {
    util::log_error("no server at " + url + " (" + httplib::to_string(health.error()) + ")");
    return kExitFailure;
  }
  auto stats = client.Get("/v1/stats", headers);
  if (!stats || stats->status != 200) {
    util::log_error(url + "/v1/stats: " + (stats ? "HTTP " + std::to_string(stats->status) + " " + stats->body
                                                 : httplib::to_string(stats.error())));
    return kExitFailure;
  }
  const auto h = nlohmann::json::parse(health->body, nullptr, false);
  const auto st = nlohmann::json::parse(stats->body, nullptr, false);
  if (h.is_discarded() || st.is_discarded()) return util::log_error(url + ": the reply is not JSON"), kExitFailure;
  if (args.has("json")) std::cout << nlohmann::json{{"url", url}, {"health", h}, {"stats", st}}.dump(2) << "\n";
  else print_human(h, st);
  return health->status == 200 ? kExitOk : kExitFailure;
}

}  // namespace

SDXL_REGISTER_COMMAND(Command{
    "status", "ask a running `sdxl serve` for its queue, jobs and memory statistics",
    "usage: sdxl status [--url http://HOST:PORT] [--api-key KEY] [--config FILE] [--json]\n\n"
    "Reads /healthz and /v1/stats. The address and key default to the configuration's [server]\n"
    "section. Exit code 0 when the server answers healthy, 1 when it is unreachable or stopping.",
    run_status})

}  // namespace sdxl::cli
