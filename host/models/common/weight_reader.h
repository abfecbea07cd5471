#pragma once
// WeightReader: hands out the tensors of one component (keyed by diffusers names) to the modules
// that are built from them, converting each once to the compute dtype/device.
//
// Why a reader instead of map lookups: loading must consume every key exactly once and report
// every problem by name. The reader checks shapes as modules ask for tensors, remembers which
// keys were taken, and finish() reports the first missing / mis-shaped key and any key nobody
// took (a sign of a wrong config or an unsupported variant), naming the component's source.
//
// Thread rules: single-threaded use while a model is being built.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::models {

class WeightReader {
 public:
  /// `source` names the file/folder in messages; tensors may be any floating dtype.
  WeightReader(const std::map<std::string, at::Tensor>& tensors, std::string source,
               c10::ScalarType dtype, c10::Device device);

  /// A reader that has no tensors: take() records (key, shape) and returns a meta tensor, so a
  /// model's load() lists every tensor it needs for a config (benchmarks, structure tests).
  static WeightReader recorder(std::map<std::string, std::vector<std::int64_t>>* out);

  /// The tensor `key`, converted (no copy when dtype/device already match). On a missing key or
  /// a shape other than `shape` records an error and returns an undefined tensor.
  at::Tensor take(const std::string& key, const std::vector<std::int64_t>& shape);
  /// Like take() but absence is fine (returns undefined, no error).
  at::Tensor take_optional(const std::string& key, const std::vector<std::int64_t>& shape);
  bool has(const std::string& key) const { return tensors_.count(key) != 0; }

  /// First error recorded, else an error listing keys never taken, else ok.
  sdk::Status finish() const;
  bool failed() const { return !errors_.empty(); }

  c10::ScalarType dtype() const { return dtype_; }
  c10::Device device() const { return device_; }
  /// Bytes of the converted tensors handed out (what stays resident for the model).
  std::uint64_t resident_bytes() const { return resident_bytes_; }
  /// Every tensor handed out, by key: the very tensors the model keeps, so in-place edits (LoRA
  /// merges) reach the model.
  const std::map<std::string, at::Tensor>& handed_out() const { return handed_out_; }

 private:
  const std::map<std::string, at::Tensor>& tensors_;
  std::string source_;
  c10::ScalarType dtype_;
  c10::Device device_;
  std::set<std::string> taken_;
  std::vector<std::string> errors_;
  std::uint64_t resident_bytes_ = 0;
  std::map<std::string, at::Tensor> handed_out_;
  std::map<std::string, std::vector<std::int64_t>>* record_ = nullptr;
};

}  // namespace sdxl::models
