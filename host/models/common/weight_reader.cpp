#include "models/common/weight_reader.h"

#include <ATen/ATen.h>

#include "sdxl/sdk/shape_text.h"

namespace sdxl::models {

WeightReader::WeightReader(const std::map<std::string, at::Tensor>& tensors, std::string source,
                           c10::ScalarType dtype, c10::Device device)
    : tensors_(tensors), source_(std::move(source)), dtype_(dtype), device_(device) {}

WeightReader WeightReader::recorder(std::map<std::string, std::vector<std::int64_t>>* out) {
  static const std::map<std::string, at::Tensor> kNone;
  WeightReader r(kNone, "(recorder)", at::kFloat, at::kMeta);
  r.record_ = out;
  return r;
}

at::Tensor WeightReader::take_optional(const std::string& key, const std::vector<std::int64_t>& shape) {
  if (!has(key)) return {};
  return take(key, shape);
}

at::Tensor WeightReader::take(const std::string& key, const std::vector<std::int64_t>& shape) {
  if (record_) {
    if (!record_->emplace(key, shape).second) errors_.push_back(source_ + ": tensor '" + key + "' requested twice");
    return at::empty(shape, at::TensorOptions().dtype(dtype_).device(at::kMeta));
  }
  auto it = tensors_.find(key);
  if (it == tensors_.end()) {
    errors_.push_back(source_ + ": missing tensor '" + key + "' (expected shape " + sdk::shape_text(shape) + ")");
    return {};
  }
  if (!taken_.insert(key).second) {
    errors_.push_back(source_ + ": tensor '" + key + "' consumed twice (internal error)");
    return {};
  }
  const at::Tensor& t = it->second;
  if (t.sizes() != at::IntArrayRef(shape)) {
    errors_.push_back(source_ + ": tensor '" + key + "' has shape " + sdk::shape_text(t.sizes()) +
                      ", expected " + sdk::shape_text(shape));
    return {};
  }
  if (!at::isFloatingType(t.scalar_type())) {
    errors_.push_back(source_ + ": tensor '" + key + "' has non-floating dtype " +
                      std::string(c10::toString(t.scalar_type())));
    return {};
  }
  // .to() returns `t` itself when dtype and device already match: no copy of mapped weights.
  at::Tensor converted = t.to(device_, dtype_);
  resident_bytes_ += converted.numel() * converted.element_size();
  handed_out_[key] = converted;
  return converted;
}

sdk::Status WeightReader::finish() const {
  if (!errors_.empty()) {
    std::string msg = errors_.front();
    if (errors_.size() > 1) msg += " (and " + std::to_string(errors_.size() - 1) + " more problems)";
    return sdk::invalid_argument(msg);
  }
  std::vector<std::string> unused;
  for (const auto& kv : tensors_)
    if (!taken_.count(kv.first)) unused.push_back(kv.first);
  if (!unused.empty()) {
    std::string msg = source_ + ": " + std::to_string(unused.size()) +
                      " tensor(s) not used by the model (wrong config or unsupported variant?), first: '" +
                      unused.front() + "'";
    return sdk::invalid_argument(msg);
  }
  return sdk::Status::Ok();
}

}  // namespace sdxl::models
