#pragma once
// Test double for the memory arbiter: components that keep their own idea of where their weights
// are (independently of the arbiter and the ledger) and log every move, on a private ledger with
// simulated device capacities ("cuda:0" exists only as a name in the ledger; no CUDA needed).

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "memory/arbiter.h"

namespace sdxl::memory::testing {

inline const c10::Device kCpu(c10::kCPU);
inline const c10::Device kGpu(c10::kCUDA, 0);

struct FakeComponent {
  std::string name;
  std::uint64_t bytes = 0;
  std::string where;  // "cpu", "cuda:0" or "dropped"
  bool fail_next = false;
};

class FakeWorld {
 public:
  Ledger ledger;
  MemoryArbiter arbiter{ledger};

  FakeComponent& add(const std::string& name, std::uint64_t bytes, c10::Device device, bool pinned = false) {
    auto c = std::make_shared<FakeComponent>();
    c->name = name;
    c->bytes = bytes;
    c->where = device.str();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      comps_[name] = c;
    }
    ComponentRegistration r;
    r.name = name;
    r.device = device;
    r.bytes = bytes;
    r.pinned = pinned;
    r.callbacks.offload_to = [this, c](c10::Device d) { return move(*c, d.str(), "move"); };
    r.callbacks.drop = [this, c]() { return move(*c, "dropped", "drop"); };
    r.callbacks.reload = [this, c](c10::Device d) { return move(*c, d.str(), "reload"); };
    REQUIRE(arbiter.register_component(std::move(r)).ok());
    return *c;
  }

  std::string where(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    return comps_.at(name)->where;
  }
  std::vector<std::string> log() {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }
  void clear_log() {
    std::lock_guard<std::mutex> lock(mutex_);
    log_.clear();
  }
  /// Bytes per device by the components' own account (the independent truth for the ledger).
  std::map<std::string, std::uint64_t> bytes_by_device() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<std::string, std::uint64_t> out;
    for (const auto& [_, c] : comps_)
      if (c->where != "dropped") out[c->where] += c->bytes;
    return out;
  }
  /// The ledger holds no lease and exactly the components' own bytes on each device.
  bool ledger_at_baseline() {
    for (const auto& e : ledger.entries())
      if (e.lease) return false;
    auto truth = bytes_by_device();
    for (const auto& [dev, a] : ledger.accounts()) {
      const std::uint64_t expect = truth.count(dev) ? truth[dev] : 0;
      if (a.used != expect) return false;
    }
    return true;
  }

 private:
  sdk::Status move(FakeComponent& c, const std::string& to, const char* what) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (c.fail_next) {
      c.fail_next = false;
      return sdk::internal_error("simulated failure");
    }
    log_.push_back(std::string(what) + " " + c.name + " " + c.where + "->" + to);
    c.where = to;
    return {};
  }

  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<FakeComponent>> comps_;
  std::vector<std::string> log_;
};

inline JobFootprint job(const std::string& label, std::vector<std::string> components, c10::Device device = kGpu,
                        std::uint64_t activation_bytes = 0) {
  JobFootprint f;
  f.label = label;
  f.components = std::move(components);
  f.device = device;
  f.activation_bytes = activation_bytes;
  return f;
}

}  // namespace sdxl::memory::testing
