#pragma once
// Moving, dropping and re-reading a network's weights in place, for the memory arbiter's
// component callbacks.
//
// Why in place: the networks keep their weights as at::Tensor handles that share one TensorImpl
// with the map a model exposes (UNet2DConditionModel::parameters(), ClipTextEncoder::
// parameters(); LoRA merging relies on the same property). Tensor::set_ re-seats that TensorImpl
// on new storage, so every layer follows without rebuilding the network.
//
// Simulated devices: on a machine without CUDA a "cuda:N" target is accounted under its own name
// by the arbiter but the data is re-seated on a fresh CPU copy (physical_device), so the whole
// offload path — copy, re-seat, the model still computing the same result — runs in CPU tests.
//
// Thread rules: not thread-safe; the arbiter calls these one at a time, and only for components
// no running job has pinned. Ownership: holds handles to the model's tensors, not the model.

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::memory {

/// The device data really goes to: `logical` itself, or the CPU when `logical` is a CUDA device
/// and this build/machine has none (simulated GPU).
c10::Device physical_device(c10::Device logical);

/// Where fresh weights come from after a drop: the component's tensors by the same names as the
/// model's parameters (typically re-opening the memory-mapped checkpoint).
using WeightSource = std::function<sdk::Result<std::map<std::string, at::Tensor>>()>;

class ParameterResidency {
 public:
  /// `params`: the model's own handles (name -> tensor); `source` re-reads them after a drop.
  ParameterResidency(std::string component, std::map<std::string, at::Tensor> params, WeightSource source);

  /// Copies every tensor to physical_device(device) and re-seats it there.
  sdk::Status move_to(c10::Device device);
  /// Frees every tensor's storage (the handles become empty [0] tensors until reload).
  sdk::Status drop();
  /// Reads the weights from the source, converts them to the remembered dtype on `device`, checks
  /// the remembered shapes and re-seats the handles.
  sdk::Status reload(c10::Device device);

  /// Called after each successful move_to / reload with the device asked for (a simulated GPU
  /// included): the copies are made tensor by tensor in the standard layout, so a network that
  /// chose other layouts for its weights (channels-last, stacked q/k/v) re-applies them here. An
  /// exception from it is swallowed: the weights are valid either way, only slower.
  using Reseated = std::function<void(c10::Device)>;
  void set_on_reseated(Reseated fn) { on_reseated_ = std::move(fn); }

  bool dropped() const { return dropped_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  std::string component_;
  std::map<std::string, at::Tensor> params_;
  std::map<std::string, std::vector<std::int64_t>> shapes_;  // remembered for reload after a drop
  c10::ScalarType dtype_ = c10::kFloat;
  WeightSource source_;
  Reseated on_reseated_;
  bool dropped_ = false;
  std::uint64_t bytes_ = 0;

  void reseated(c10::Device device) const;
};

}  // namespace sdxl::memory
