#pragma once
// Runs a user-supplied preprocessor model (depth, pose, segmentation, line art) on one picture.
// Two backends: ONNX through OpenCV's DNN module, TorchScript through torch::jit. Which one is
// chosen by the `backend` option or, with "auto", by the file extension.
//
// Thread rules: run() may be called from several threads; each runner serialises its calls
// (cv::dnn::Net is not re-entrant). Ownership: runners are shared (open_model caches them by
// path and backend, so units and jobs using the same file share one loaded copy).

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <vector>

#include "sdxl/sdk/status.h"

namespace sdxl::cntypes {

enum class ModelBackend { onnx, torchscript };

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  /// `input`: float32 [1, 3, H, W] on the CPU. Returns every output of the model as float32 CPU
  /// tensors, in the model's output order (a TorchScript tuple or list is flattened one level).
  virtual sdk::Result<std::vector<at::Tensor>> run(const at::Tensor& input) = 0;
  virtual std::string describe() const = 0;  ///< "ONNX model 'depth.onnx'", for messages
};

/// "auto" picks by extension: .onnx -> onnx; .pt, .pth, .ts, .torchscript, .jit -> torchscript.
sdk::Result<ModelBackend> choose_backend(const std::string& path, const std::string& choice);

/// Loads (or finds in the cache) the model. `type` names the ControlNet type for messages.
/// TorchScript models run on `device`; ONNX models on the CPU.
sdk::Result<std::shared_ptr<ModelRunner>> open_model(const std::string& type, const std::string& path,
                                                     const std::string& backend_choice, c10::Device device);

// The backends (onnx_runner.cpp, torchscript_runner.cpp). The file is known to exist.
sdk::Result<std::shared_ptr<ModelRunner>> open_onnx_model(const std::string& path);
sdk::Result<std::shared_ptr<ModelRunner>> open_torchscript_model(const std::string& path, c10::Device device);

}  // namespace sdxl::cntypes
