#include "memory/scratch_credit.h"

#include <limits>
#include <map>
#include <string>

namespace sdxl::memory {
namespace {
thread_local std::map<std::string, std::uint64_t> t_credit;  // device -> bytes (nested credits add)
}

ScratchCredit::ScratchCredit(c10::Device device, std::uint64_t bytes) : device_(device), bytes_(bytes) {
  t_credit[device_.str()] += bytes_;
}

ScratchCredit::~ScratchCredit() {
  auto& c = t_credit[device_.str()];
  c = bytes_ > c ? 0 : c - bytes_;
}

std::uint64_t scratch_credit(c10::Device device) {
  auto it = t_credit.find(device.str());
  return it == t_credit.end() ? 0 : it->second;
}

std::uint64_t with_scratch_credit(std::uint64_t available, c10::Device device) {
  const std::uint64_t credit = scratch_credit(device);
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  return available > max - credit ? max : available + credit;
}

}  // namespace sdxl::memory
