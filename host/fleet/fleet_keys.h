#pragma once
// Every Redis key the fleet uses, derived from one base stream name so that two fleets can share a
// Redis by using different --stream names. With the default base "sdxl:jobs":
//   sdxl:jobs                      shared job stream (consumer group "workers")
//   sdxl:jobs:model:<model>        per-model job streams (affinity routing)
//   sdxl:jobs:model-streams        set of the per-model streams ever used (so orphans get drained)
//   sdxl:jobs:dead                 dead-letter stream: jobs that failed for good, with their error
//   sdxl:jobs:result:<id>          hash: status, metadata JSON, image:<n> PNG bytes (TTL)
//   sdxl:jobs:events:<id>          stream of progress events for one job (TTL)
//   sdxl:jobs:error:<id>           last error of a job that is being retried (TTL)
//   sdxl:jobs:workers              set of worker names; sdxl:jobs:worker:<name> hash with a TTL

#include <string>

namespace sdxl::fleet {

struct FleetKeys {
  std::string base = "sdxl:jobs";

  const std::string& shared_stream() const { return base; }
  std::string model_stream(const std::string& model) const { return base + ":model:" + model; }
  std::string model_streams_set() const { return base + ":model-streams"; }
  std::string dead_letter() const { return base + ":dead"; }
  std::string result(const std::string& id) const { return base + ":result:" + id; }
  std::string events(const std::string& id) const { return base + ":events:" + id; }
  std::string last_error(const std::string& id) const { return base + ":error:" + id; }
  std::string workers_set() const { return base + ":workers"; }
  std::string worker(const std::string& name) const { return base + ":worker:" + name; }
};

}  // namespace sdxl::fleet
