// `sdxl fleet`: the client side of a worker fleet behind Redis — submit jobs (with model-affinity
// routing), fetch results, show workers, queues and dead letters. (The file name keeps it with
// worker.cpp: both are built only with SDXL_WITH_SERVER.)
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/startup.h"
#include "fleet/gateway.h"
#include "fleet/streams.h"
#include "fleet/worker_registry.h"
#include "util/logging.h"

namespace sdxl::cli {
namespace {

sdk::Result<std::string> read_job_text(const std::string& where) {
  if (where == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  if (!where.empty() && (where[0] == '{' || where[0] == '[')) return where;  // inline JSON
  std::ifstream in(where, std::ios::binary);
  if (!in) return sdk::not_found("job file '" + where + "': cannot open");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Writes a stored result's images as OUT/ID-N.png; prints the result as JSON (no image bytes).
int print_result(const std::string& id, const fleet::StoredResult& r, const std::string& out_dir) {
  nlohmann::json j{{"id", id}, {"status", r.status}, {"worker", r.worker}, {"metadata", r.metadata}};
  if (!r.error.empty()) j["error"] = r.error;
  nlohmann::json files = nlohmann::json::array();
  if (!out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    for (std::size_t i = 0; i < r.images_png.size(); ++i) {
      const auto path = std::filesystem::path(out_dir) / (id + "-" + std::to_string(i) + ".png");
      std::ofstream f(path, std::ios::binary);
      f.write(r.images_png[i].data(), static_cast<std::streamsize>(r.images_png[i].size()));
      if (!f) return util::log_error("cannot write " + path.string()), kExitFailure;
      files.push_back(path.string());
    }
  }
  j["images"] = r.images_png.size();
  j["files"] = files;
  std::cout << j.dump(2) << "\n";
  return r.status == "done" ? kExitOk : kExitFailure;
}

int wait_and_print(fleet::RedisConnection& c, const fleet::FleetKeys& keys, const std::string& id, double wait_s,
                   const std::string& out_dir) {
  auto r = fleet::wait_result(c, keys, id, std::chrono::milliseconds(static_cast<std::int64_t>(wait_s * 1000)));
  if (!r.ok()) return util::log_error(r.status().message()), kExitFailure;
  if (!r.value()) return util::log_error("job " + id + ": no result yet"), kExitFailure;
  return print_result(id, *r.value(), out_dir);
}

int run_fleet(Args& args, const GlobalOptions&) {
  for (const char* o : {"redis", "stream", "group", "out", "wait-s"}) args.option(o);
  args.flag("wait");
  if (!parse_or_complain(args, "fleet")) return kExitUsage;
  const auto& pos = args.positionals();
  if (pos.empty()) return std::cerr << "sdxl fleet: expected submit, result or status\n", kExitUsage;
  auto endpoint = fleet::parse_redis_url(args.get_or("redis", "redis://127.0.0.1:6379"));
  if (!endpoint.ok()) return util::log_error(endpoint.status().message()), kExitUsage;
  fleet::FleetKeys keys;
  keys.base = args.get_or("stream", "sdxl:jobs");
  const std::string group = args.get_or("group", "workers");
  double wait_s = 0;
  try {
    wait_s = std::stod(args.get_or("wait-s", args.has("wait") ? "600" : "0"));
  } catch (const std::exception&) {
    return util::log_error("--wait-s: expected seconds"), kExitUsage;
  }
  fleet::RedisConnection c(endpoint.value());

  if (pos[0] == "submit") {
    if (pos.size() != 2) return std::cerr << "usage: sdxl fleet submit JOB.json|-|'{…}'\n", kExitUsage;
    auto text = read_job_text(pos[1]);
    if (!text.ok()) return util::log_error(text.status().message()), kExitUsage;
    auto receipt = fleet::submit_job(c, keys, text.value());
    if (!receipt.ok())
      return util::log_error(receipt.status().message()),
             receipt.status().code() == sdk::StatusCode::invalid_argument ? kExitUsage : kExitFailure;
    if (wait_s > 0) return wait_and_print(c, keys, receipt.value().id, wait_s, args.get_or("out", ""));
    std::cout << nlohmann::json{{"id", receipt.value().id}, {"stream", receipt.value().stream}}.dump() << "\n";
    return kExitOk;
  }
  if (pos[0] == "result") {
    if (pos.size() != 2) return std::cerr << "usage: sdxl fleet result ID [--out DIR] [--wait-s S]\n", kExitUsage;
    return wait_and_print(c, keys, pos[1], wait_s, args.get_or("out", ""));
  }
  if (pos[0] == "status") {
    nlohmann::json j;
    auto workers = fleet::live_workers(c, keys);
    if (!workers.ok()) return util::log_error(workers.status().message()), kExitFailure;
    j["workers"] = nlohmann::json::array();
    for (const auto& w : workers.value())
      j["workers"].push_back({{"name", w.name}, {"models", w.models}, {"loras", w.loras}, {"current_job", w.current_job},
                              {"jobs_done", w.jobs_done}, {"pid", w.pid}});
    std::vector<std::string> streams{keys.shared_stream()};
    if (auto set = c.command({"SMEMBERS", keys.model_streams_set()}); set.ok())
      for (const auto& s : set.value().elements) streams.push_back(s.str);
    j["streams"] = nlohmann::json::object();
    for (const auto& s : streams) {
      auto len = c.command({"XLEN", s});
      auto pending = fleet::pending_count(c, s, group);
      j["streams"][s] = {{"length", len.ok() ? len.value().integer : 0}, {"pending", pending.ok() ? pending.value() : 0}};
    }
    auto dead = c.command({"XLEN", keys.dead_letter()});
    j["dead_letters"] = dead.ok() ? dead.value().integer : 0;
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cerr << "sdxl fleet: unknown action '" << pos[0] << "' (submit, result, status)\n";
  return kExitUsage;
}

}  // namespace

SDXL_REGISTER_COMMAND(Command{
    "fleet", "submit jobs to a Redis worker fleet, fetch results, show its state",
    "usage: sdxl fleet submit JOB.json|-|'{JSON}' [--wait | --wait-s S] [--out DIR]\n"
    "       sdxl fleet result ID [--wait-s S] [--out DIR]\n"
    "       sdxl fleet status\n"
    "common: [--redis redis://HOST:PORT[/DB]] [--stream sdxl:jobs] [--group workers]\n\n"
    "submit queues a job (the JSON of POST /v1/jobs; an \"id\" field names it, else one is generated)\n"
    "on the per-model stream of a live worker holding its \"model\", else on the shared stream, and\n"
    "prints {\"id\", \"stream\"}. With --wait it waits for the result like `result`. result prints the\n"
    "stored outcome as JSON and writes images as DIR/ID-N.png; exit 1 when the job failed or no\n"
    "result came within --wait-s. status lists live workers, stream lengths and pending counts.",
    run_fleet})

}  // namespace sdxl::cli
