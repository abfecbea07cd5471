#include "memory/parameter_residency.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "io/device_upload.h"

namespace sdxl::memory {

c10::Device physical_device(c10::Device logical) {
  if (logical.is_cuda() && !at::hasCUDA()) return c10::Device(c10::kCPU);
  return logical;
}

ParameterResidency::ParameterResidency(std::string component, std::map<std::string, at::Tensor> params,
                                       WeightSource source)
    : component_(std::move(component)), params_(std::move(params)), source_(std::move(source)) {
  for (const auto& [name, t] : params_) {
    if (!t.defined()) continue;
    shapes_[name] = t.sizes().vec();
    dtype_ = t.scalar_type();
    bytes_ += static_cast<std::uint64_t>(t.numel()) * t.element_size();
  }
}

sdk::Status ParameterResidency::move_to(c10::Device device) {
  if (dropped_) return sdk::invalid_argument(component_ + ": weights are dropped; reload before moving");
  const c10::Device target = physical_device(device);
  try {
    c10::NoGradGuard no_grad;
    // Copy first, re-seat after: a failure half-way leaves every handle on valid storage. To a
    // GPU through pinned staging buffers; onto the CPU (a simulated GPU included) the staging
    // code still makes the fresh copy.
    std::map<std::string, at::Tensor> defined;
    for (const auto& [name, t] : params_)
      if (t.defined()) defined[name] = t;
    io::UploadOptions fresh_copies;
    fresh_copies.force_staging = target.is_cpu();
    auto moved = io::upload_tensors(defined, target, std::nullopt, component_, fresh_copies);
    if (!moved.ok()) return moved.status();
    for (auto& [name, t] : params_)
      if (t.defined()) t.set_(moved.value().at(name));
  } catch (const std::exception& e) {
    return sdk::internal_error(component_ + ": moving weights to " + device.str() + " failed: " + e.what());
  }
  reseated(device);
  return {};
}

void ParameterResidency::reseated(c10::Device device) const {
  if (!on_reseated_) return;
  try {
    on_reseated_(device);
  } catch (const std::exception&) {  // layouts are a speed-up: the standard ones compute the same
  }
}

sdk::Status ParameterResidency::drop() {
  if (dropped_) return {};
  try {
    c10::NoGradGuard no_grad;
    for (auto& [name, t] : params_)
      if (t.defined()) t.set_(at::empty({0}, t.options()));
  } catch (const std::exception& e) {
    return sdk::internal_error(component_ + ": dropping weights failed: " + e.what());
  }
  dropped_ = true;
  return {};
}

sdk::Status ParameterResidency::reload(c10::Device device) {
  if (!source_) return sdk::unsupported(component_ + ": no weight source to reload from");
  auto fresh = source_();
  if (!fresh.ok()) return sdk::Status(fresh.status().code(), component_ + ": reload: " + fresh.status().message());
  const c10::Device target = physical_device(device);
  try {
    c10::NoGradGuard no_grad;
    std::map<std::string, at::Tensor> wanted;
    for (const auto& [name, shape] : shapes_) {
      auto it = fresh.value().find(name);
      if (it == fresh.value().end()) return sdk::not_found(component_ + ": reload: tensor '" + name + "' is missing");
      if (it->second.numel() != c10::multiply_integers(shape))
        return sdk::corrupt_data(component_ + ": reload: tensor '" + name + "' changed size since it was loaded");
      wanted[name] = it->second;
    }
    // Without a copy where dtype and device already match (a view of the mapped file stays one);
    // to a GPU through the staging buffers.
    auto converted = io::upload_tensors(wanted, target, dtype_, component_);
    if (!converted.ok()) return converted.status();
    std::map<std::string, at::Tensor> loaded;
    for (const auto& [name, shape] : shapes_) loaded[name] = converted.value().at(name).reshape(shape);
    for (auto& [name, t] : params_)
      if (loaded.count(name)) t.set_(loaded.at(name));
  } catch (const std::exception& e) {
    return sdk::internal_error(component_ + ": reloading weights failed: " + e.what());
  }
  dropped_ = false;
  reseated(device);
  return {};
}

}  // namespace sdxl::memory
